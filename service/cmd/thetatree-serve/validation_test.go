package main

import (
	"fmt"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/thetatree/thetatree/service/internal/predict"
)

func zerosRow(n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = "0"
	}
	return r
}

func rowWith(n, col int, v string) string {
	r := zerosRow(n)
	r[col] = v
	return "[" + strings.Join(r, ",") + "]"
}

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// TestPredictValidation sends every kind of bad input: each must be a 4xx JSON error with a
// stable code, naming the row and column (or feature) where that applies; never a 500.
func TestPredictValidation(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-rows", "5", "-max-body-bytes", "65536"))
	n := ta.reg.Current().NFeatures
	good := rowWith(n, 0, "1")
	odorN := ta.reg.Current().FeatureIndex["odor=n"]
	i := func(v int) *int { return &v }
	cases := []struct {
		name    string
		body    string
		status  int
		code    string
		row     *int
		col     *int
		feature string
	}{
		{"empty body", "", 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"whitespace body", "  \n", 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"not JSON", "hello", 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"top-level array", "[[0]]", 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"truncated", `{"features":[[0,1`, 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"trailing data", `{"features":[]} x`, 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"NaN literal", `{"features":[[NaN]]}`, 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"Infinity literal", `{"features":[[Infinity]]}`, 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"leading zero", `{"features":[[01]]}`, 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"no rows key", `{}`, 400, predict.CodeBadShape, nil, nil, ""},
		{"unknown key", `{"feature":[[0]]}`, 400, predict.CodeUnknownField, nil, nil, ""},
		{"both shapes", `{"features":[],"instances":[]}`, 400, predict.CodeBadShape, nil, nil, ""},
		{"duplicate key", `{"features":[],"features":[]}`, 400, predict.CodeBadShape, nil, nil, ""},
		{"features not array", `{"features":5}`, 400, predict.CodeBadShape, nil, nil, ""},
		{"row not array", `{"features":[` + good + `,7]}`, 400, predict.CodeBadShape, i(1), nil, ""},
		{"instances not array", `{"instances":{}}`, 400, predict.CodeBadShape, nil, nil, ""},
		{"instance not object", `{"instances":[{},[1]]}`, 400, predict.CodeBadShape, i(1), nil, ""},
		{"short row", `{"features":[` + good + `,[0,1,0]]}`, 400, predict.CodeWrongWidth, i(1), i(3), ""},
		{"empty row", `{"features":[[]]}`, 400, predict.CodeWrongWidth, i(0), i(0), ""},
		{"long row", `{"features":[[` + strings.Join(zerosRow(n+1), ",") + `]]}`, 400, predict.CodeWrongWidth, i(0), i(n), ""},
		{"value 2", `{"features":[` + good + `,` + rowWith(n, 7, "2") + `]}`, 400, predict.CodeBadValue, i(1), i(7), ""},
		{"value -2", `{"features":[` + rowWith(n, 3, "-2") + `]}`, 400, predict.CodeBadValue, i(0), i(3), ""},
		{"value 0.5", `{"features":[` + rowWith(n, n-1, "0.5") + `]}`, 400, predict.CodeBadValue, i(0), i(n - 1), ""},
		{"value 1e999", `{"features":[` + rowWith(n, 5, "1e999") + `]}`, 400, predict.CodeBadValue, i(0), i(5), ""},
		{"value -1e999", `{"features":[` + rowWith(n, 5, "-1e999") + `]}`, 400, predict.CodeBadValue, i(0), i(5), ""},
		{"string value", `{"features":[` + rowWith(n, 2, `"1"`) + `]}`, 400, predict.CodeBadValue, i(0), i(2), ""},
		{"array value", `{"features":[` + rowWith(n, 2, `[1]`) + `]}`, 400, predict.CodeBadValue, i(0), i(2), ""},
		{"object value", `{"features":[` + rowWith(n, 2, `{"a":1}`) + `]}`, 400, predict.CodeBadValue, i(0), i(2), ""},
		{"too deep in a cell", `{"features":[` + rowWith(n, 2, nested(40)) + `]}`, 400, predict.CodeTooDeep, nil, nil, ""},
		{"too deep rows", `{"features":` + nested(100) + `}`, 400, predict.CodeTooDeep, nil, nil, ""},
		{"unknown feature", `{"instances":[{"odor=n":1},{"odor=zz":1}]}`, 400, predict.CodeUnknownFeature, i(1), nil, "odor=zz"},
		{"duplicate feature", `{"instances":[{"odor=n":1,"odor=n":0}]}`, 400, predict.CodeDuplicateFeature, i(0), i(odorN), "odor=n"},
		{"bad instance value", `{"instances":[{},{"odor=n":3}]}`, 400, predict.CodeBadValue, i(1), i(odorN), "odor=n"},
		{"instance value string", `{"instances":[{"odor=n":"yes"}]}`, 400, predict.CodeBadValue, i(0), i(odorN), "odor=n"},
		{"too many rows", `{"features":[` + strings.Repeat(good+",", 5) + good + `]}`, 413, predict.CodeTooManyRows, i(5), nil, ""},
		{"too many instances", `{"instances":[{},{},{},{},{},{}]}`, 413, predict.CodeTooManyRows, i(5), nil, ""},
		{"body too large", `{"features":[` + strings.Repeat(" ", 70000) + `]}`, 413, predict.CodeBodyTooLarge, nil, nil, ""},
		{"control char in key", "{\"instances\":[{\"od\x01or\":1}]}", 400, predict.CodeInvalidJSON, nil, nil, ""},
		{"invalid UTF-8 key", "{\"instances\":[{\"od\xffor\":1}]}", 400, predict.CodeInvalidJSON, nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b := ta.post(t, "/predict", c.body)
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, b)
			}
			e := decodeError(t, b)
			if e.Error.Code != c.code {
				t.Fatalf("code %q, want %q: %s", e.Error.Code, c.code, b)
			}
			checkPos := func(what string, got, want *int) {
				t.Helper()
				switch {
				case want == nil && got != nil:
					t.Errorf("%s = %d, want none: %s", what, *got, b)
				case want != nil && (got == nil || *got != *want):
					t.Errorf("%s = %v, want %d: %s", what, got, *want, b)
				}
			}
			checkPos("row", e.Error.Row, c.row)
			checkPos("column", e.Error.Column, c.col)
			if c.feature != "" && e.Error.Feature != c.feature {
				t.Errorf("feature %q, want %q", e.Error.Feature, c.feature)
			}
			if c.row != nil && !strings.Contains(e.Error.Message, "row "+strconv.Itoa(*c.row)) {
				t.Errorf("message does not name the row: %q", e.Error.Message)
			}
			if c.col != nil && c.code != predict.CodeWrongWidth && !strings.Contains(e.Error.Message, "column "+strconv.Itoa(*c.col)) {
				t.Errorf("message does not name the column: %q", e.Error.Message)
			}
		})
	}
	// Every rejection is counted by code.
	_, metrics := ta.get(t, "/metrics")
	for _, want := range []string{
		`thetatree_predict_rejected_total{code="bad_value"}`,
		`thetatree_predict_rejected_total{code="body_too_large"} 1`,
		`thetatree_http_requests_total{code="413",handler="predict"} 3`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestPredictAcceptedSpellings: 0/1 may be written as JSON allows; -1 and null are missing.
func TestPredictAcceptedSpellings(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	n := ta.reg.Current().NFeatures
	base := make([]int8, n)
	rng := rand.New(rand.NewSource(3))
	for j := range base {
		base[j] = int8(rng.Intn(3) - 1)
	}
	want := decodePredict(t, mustOK(t, ta, featuresBody([][]int8{base}, false)))
	spell := map[int8][]string{
		0:  {"0", "-0", "0.0", "0e5", "-0.0E-3", "false"},
		1:  {"1", "1.0", "1e0", "10E-1", "0.1e1", "true"},
		-1: {"-1", "null", "-1.0", "-1e0"},
	}
	for k := 0; k < 6; k++ {
		cells := make([]string, n)
		for j, v := range base {
			s := spell[v]
			cells[j] = s[(j+k)%len(s)]
		}
		body := " {\n \"features\" : [ [ " + strings.Join(cells, " ,\t") + " ] ] }\r\n"
		got := decodePredict(t, mustOK(t, ta, body))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("spelling %d: %v, want %v", k, got, want)
		}
	}
	// Instances: absent = 0, null/-1 = missing, names may use JSON escapes.
	names := ta.reg.Current().FeatureNames
	var parts []string
	for j, v := range base {
		switch v {
		case 1:
			parts = append(parts, strconv.Quote(names[j])+":1")
		case -1:
			if j%2 == 0 {
				parts = append(parts, strconv.Quote(names[j])+":null")
			} else {
				parts = append(parts, `"`+strings.ReplaceAll(names[j], "=", `\u003d`)+`":-1`)
			}
		}
	}
	got := decodePredict(t, mustOK(t, ta, `{"instances":[{`+strings.Join(parts, ",")+`}]}`))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("instances: %v, want %v", got, want)
	}
	// Empty batches are fine.
	for _, body := range []string{`{"features":[]}`, `{"instances":[]}`} {
		got := decodePredict(t, mustOK(t, ta, body))
		if len(got.Predictions) != 0 || len(got.Probabilities) != 0 || got.ModelVersion != "v1" {
			t.Fatalf("%s: %+v", body, got)
		}
	}
}

// TestUnknownFeaturesIgnore: with -unknown-features ignore, unknown names are skipped (their
// values must still be well-formed JSON within the depth limit).
func TestUnknownFeaturesIgnore(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-unknown-features", "ignore"))
	a := decodePredict(t, mustOK(t, ta, `{"instances":[{"odor=n":1}]}`))
	b := decodePredict(t, mustOK(t, ta, `{"instances":[{"odor=n":1,"colour":"red","x":{"y":[1,2,{"z":null}]}}]}`))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("ignored names changed the answer: %v vs %v", a, b)
	}
	code, body := ta.post(t, "/predict", `{"instances":[{"x":`+nested(40)+`}]}`)
	if code != 400 || decodeError(t, body).Error.Code != predict.CodeTooDeep {
		t.Fatalf("deep ignored value: %d %s", code, body)
	}
	code, body = ta.post(t, "/predict", `{"instances":[{"x":[1,}]}`)
	if code != 400 || decodeError(t, body).Error.Code != predict.CodeInvalidJSON {
		t.Fatalf("malformed ignored value: %d %s", code, body)
	}
}

// TestBodyLimitWithoutContentLength: a chunked body over the limit is cut at the limit.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-body-bytes", "4096"))
	body := `{"features":[` + strings.Repeat(" ", 10000) + `]}`
	req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/predict", struct{ *strings.Reader }{strings.NewReader(body)})
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := ta.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func mustOK(t testing.TB, ta *testApp, body string) []byte {
	t.Helper()
	code, b := ta.post(t, "/predict", body)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	return b
}
