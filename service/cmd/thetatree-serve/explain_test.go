package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	thetatree "github.com/thetatree/thetatree/bindings/go"
	"github.com/thetatree/thetatree/service/internal/predict"
)

type explanation struct {
	Leaf          int32    `json:"leaf"`
	Nodes         []int32  `json:"nodes"`
	Path          []string `json:"path"`
	Contributions []struct {
		Feature string  `json:"feature"`
		Value   float64 `json:"value"`
	} `json:"contributions"`
	Bias float64 `json:"bias"`
}

type explainResponse struct {
	predictResponse
	Explanations []explanation `json:"explanations"`
}

func decodeExplain(t testing.TB, b []byte) explainResponse {
	t.Helper()
	var r explainResponse
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decoding /predict answer: %v\n%.500s", err, b)
	}
	return r
}

// withExplain adds top-level keys to a {"features": ...} or {"instances": ...} body.
func withExplain(body, keys string) string {
	return "{" + keys + "," + strings.TrimPrefix(body, "{")
}

// TestPredictExplainGolden: "explain": true on every reference row of the example model
// (compiled from mushroom_gini_d5_lgk12), clean and with missing values. The leaf is the
// reference's leaf_preorder; the nodes end there and follow the row's values through the
// tree as the library's Node reads it; each rule names the split's feature and the side the
// row took; the contributions are the library's, largest |value| first, and with a top_k as
// large as the path they add up, with the bias, to P(class 1). The predictions and
// probabilities are those of the same body without "explain".
func TestPredictExplainGolden(t *testing.T) {
	path := exampleModel(t, "v1")
	dir := modelDir(t, map[string]string{"v1": path})
	ta := newTestApp(t, testConfig(t, dir, "-max-body-bytes", "8388608"))
	lib, err := thetatree.Load(path, thetatree.WithCopy())
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	nf := lib.NFeatures()
	names := lib.FeatureNames()
	nodes := make([]thetatree.Node, lib.NNodes())
	for i := range nodes {
		if nodes[i], err = lib.Node(i); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ input, golden string }{
		{"inputs/mushroom_X.csv", "golden/mushroom_gini_d5_lgk12__X.csv"},
		{"inputs/mushroom_X_missing.csv", "golden/mushroom_gini_d5_lgk12__X_missing.csv"},
	} {
		_, rows := readCSV(t, tc.input)
		_, golden := readCSV(t, tc.golden)
		x := make([][]int8, len(rows))
		for i, r := range rows {
			x[i] = make([]int8, nf)
			for j, c := range r[1:] {
				switch c {
				case "1":
					x[i][j] = 1
				case "":
					x[i][j] = -1
				}
			}
		}
		const batch = 1500
		for lo := 0; lo < len(rows); lo += batch {
			hi := min(lo+batch, len(rows))
			body := featuresBody(x[lo:hi], lo%2 == 0)
			plain := decodePredict(t, mustOK(t, ta, body))
			topK := []int{5, 1, predict.MaxTopK}[(lo/batch)%3]
			got := decodeExplain(t, mustOK(t, ta, withExplain(body, `"explain":true,"top_k":`+strconv.Itoa(topK))))
			if len(got.Explanations) != hi-lo {
				t.Fatalf("%d explanations for %d rows", len(got.Explanations), hi-lo)
			}
			for i := lo; i < hi; i++ {
				e, row := got.Explanations[i-lo], x[i]
				if got.Predictions[i-lo] != plain.Predictions[i-lo] || got.Probabilities[i-lo] != plain.Probabilities[i-lo] {
					t.Fatalf("row %d: explaining changed the prediction", i)
				}
				if want, _ := strconv.Atoi(golden[i][5]); int(e.Leaf) != want {
					t.Fatalf("%s row %d: leaf %d, golden leaf_preorder %d", tc.input, i, e.Leaf, want)
				}
				checkExplanation(t, i, e, row, nodes, names, topK, got.Probabilities[i-lo][1])
			}
		}
	}
}

func checkExplanation(t *testing.T, i int, e explanation, row []int8, nodes []thetatree.Node, names []string, topK int, p1 float64) {
	t.Helper()
	if len(e.Nodes) == 0 || e.Nodes[0] != 0 || e.Nodes[len(e.Nodes)-1] != e.Leaf || len(e.Path) != len(e.Nodes)-1 {
		t.Fatalf("row %d: nodes %v, path %q, leaf %d", i, e.Nodes, e.Path, e.Leaf)
	}
	onPath := map[string]float64{}
	for j, id := range e.Nodes[:len(e.Nodes)-1] {
		n := nodes[id]
		v := row[n.Feature]
		right := v == 1 || (v == -1 && n.MissingRight)
		next, side := n.Left, "absent"
		if right {
			next, side = n.Right, "present"
		}
		if v == -1 {
			side = "missing (taken as " + side + ")"
		}
		if int(e.Nodes[j+1]) != next {
			t.Fatalf("row %d: node %d goes to %d, the row's value %d leads to %d", i, id, e.Nodes[j+1], v, next)
		}
		if want := names[n.Feature] + " " + side; e.Path[j] != want {
			t.Fatalf("row %d: rule %d is %q, want %q", i, j, e.Path[j], want)
		}
		onPath[names[n.Feature]] += nodes[e.Nodes[j+1]].Probabilities[1] - n.Probabilities[1]
	}
	nonzero := 0
	for _, v := range onPath {
		if v != 0 {
			nonzero++
		}
	}
	if len(e.Contributions) != min(topK, nonzero) {
		t.Fatalf("row %d: %d contributions, top_k %d, %d non-zero on the path", i, len(e.Contributions), topK, nonzero)
	}
	sum := e.Bias
	for j, c := range e.Contributions {
		want, ok := onPath[c.Feature]
		if !ok || math.Abs(c.Value-want) > 1e-15 || c.Value == 0 {
			t.Fatalf("row %d: contribution %s = %v, the path says %v (on path: %v)", i, c.Feature, c.Value, want, ok)
		}
		if j > 0 && math.Abs(c.Value) > math.Abs(e.Contributions[j-1].Value) {
			t.Fatalf("row %d: contributions not ordered by |value|: %+v", i, e.Contributions)
		}
		sum += c.Value
	}
	if e.Bias != nodes[0].Probabilities[1] {
		t.Fatalf("row %d: bias %v, root P1 %v", i, e.Bias, nodes[0].Probabilities[1])
	}
	if topK >= nonzero && math.Abs(sum-p1) > 1e-12 {
		t.Fatalf("row %d: contributions + bias = %v, P1 %v", i, sum, p1)
	}
}

// TestPredictExplainOptions: the answer without "explain" (or with false) is unchanged, the
// default top_k is 5, instances are explained like features, and an empty batch explains
// nothing.
func TestPredictExplainOptions(t *testing.T) {
	dir := modelDir(t, map[string]string{"v2": exampleModel(t, "v2")})
	ta := newTestApp(t, testConfig(t, dir))
	body := `{"instances":[{"odor=n":1,"spore_print_color=r":null},{"odor=f":1}]}`
	plain := mustOK(t, ta, body)
	if bytes.Contains(plain, []byte("explanations")) {
		t.Fatalf("explanations without explain: %s", plain)
	}
	if off := mustOK(t, ta, withExplain(body, `"explain":false`)); !bytes.Equal(off, plain) {
		t.Fatalf(`"explain": false changed the answer: %s`, off)
	}
	on := mustOK(t, ta, withExplain(body, `"explain":true`))
	got := decodeExplain(t, on)
	if len(got.Explanations) != 2 {
		t.Fatalf("%s", on)
	}
	// Key order does not matter; explain after the rows gives the same bytes.
	if after := mustOK(t, ta, strings.TrimSuffix(body, "}")+`,"explain":true}`); !bytes.Equal(after, on) {
		t.Fatalf("explain after the rows: %s, before: %s", after, on)
	}
	for _, e := range got.Explanations {
		if len(e.Contributions) > predict.DefaultTopK {
			t.Errorf("%d contributions by default", len(e.Contributions))
		}
	}
	// Rules say what each row had: row 0 has odor=n, lacks spore_print_color=r (missing), and
	// every other feature is absent; row 1 has odor=f only.
	for r, has := range []map[string]string{
		{"odor=n": "present", "spore_print_color=r": "missing"},
		{"odor=f": "present"},
	} {
		for _, rule := range got.Explanations[r].Path {
			name, side, _ := strings.Cut(rule, " ")
			want, ok := has[name]
			if !ok {
				want = "absent"
			}
			if !strings.HasPrefix(side, want) {
				t.Errorf("row %d: rule %q, the row's %s is %s", r, rule, name, want)
			}
		}
	}
	if empty := decodeExplain(t, mustOK(t, ta, `{"explain":true,"features":[]}`)); len(empty.Explanations) != 0 || len(empty.Predictions) != 0 {
		t.Fatalf("empty batch: %+v", empty)
	}
}

// TestPredictExplainValidation: bad explain options are 400 bad_option naming the problem;
// the rows are validated exactly as without explain; /feedback does not take the options.
func TestPredictExplainValidation(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-rows", "5"))
	n := ta.reg.Current().NFeatures
	good := `{"features":[` + rowWith(n, 0, "1") + `]}`
	i := func(v int) *int { return &v }
	for _, c := range []struct {
		name, body, code, inMessage string
		status                      int
		row, col                    *int
	}{
		{"explain string", withExplain(good, `"explain":"yes"`), predict.CodeBadOption, `"yes"`, 400, nil, nil},
		{"explain number", withExplain(good, `"explain":1`), predict.CodeBadOption, "true or false", 400, nil, nil},
		{"explain null", withExplain(good, `"explain":null`), predict.CodeBadOption, "null", 400, nil, nil},
		{"explain object", withExplain(good, `"explain":{"on":true}`), predict.CodeBadOption, "true or false", 400, nil, nil},
		{"explain too deep", withExplain(good, `"explain":`+nested(40)), predict.CodeTooDeep, "", 400, nil, nil},
		{"explain malformed", withExplain(good, `"explain":tru`), predict.CodeInvalidJSON, "", 400, nil, nil},
		{"explain twice", withExplain(good, `"explain":true,"explain":true`), predict.CodeBadShape, `duplicate key "explain"`, 400, nil, nil},
		{"top_k zero", withExplain(good, `"explain":true,"top_k":0`), predict.CodeBadOption, "from 1 to 100, not 0", 400, nil, nil},
		{"top_k negative", withExplain(good, `"explain":true,"top_k":-3`), predict.CodeBadOption, "-3", 400, nil, nil},
		{"top_k too large", withExplain(good, `"explain":true,"top_k":101`), predict.CodeBadOption, "101", 400, nil, nil},
		{"top_k huge", withExplain(good, `"explain":true,"top_k":1e999`), predict.CodeBadOption, "1e999", 400, nil, nil},
		{"top_k fraction", withExplain(good, `"explain":true,"top_k":2.5`), predict.CodeBadOption, "2.5", 400, nil, nil},
		{"top_k string", withExplain(good, `"explain":true,"top_k":"3"`), predict.CodeBadOption, `"3"`, 400, nil, nil},
		{"top_k malformed", withExplain(good, `"explain":true,"top_k":3.`), predict.CodeInvalidJSON, "", 400, nil, nil},
		{"top_k twice", withExplain(good, `"explain":true,"top_k":3,"top_k":3`), predict.CodeBadShape, `duplicate key "top_k"`, 400, nil, nil},
		{"top_k without explain", withExplain(good, `"top_k":3`), predict.CodeBadOption, "only used with", 400, nil, nil},
		{"top_k with explain false", withExplain(good, `"explain":false,"top_k":3`), predict.CodeBadOption, "only used with", 400, nil, nil},
		{"explain alone", `{"explain":true}`, predict.CodeBadShape, "", 400, nil, nil},
		{"bad value", `{"explain":true,"features":[` + rowWith(n, 0, "1") + `,` + rowWith(n, 7, "2") + `]}`, predict.CodeBadValue, "row 1, column 7", 400, i(1), i(7)},
		{"short row", `{"explain":true,"features":[[0,1]]}`, predict.CodeWrongWidth, "", 400, i(0), i(2)},
		{"too many rows", `{"explain":true,"instances":[{},{},{},{},{},{}]}`, predict.CodeTooManyRows, "", 413, i(5), nil},
		{"unknown key", withExplain(good, `"explain":true,"explainn":true`), predict.CodeUnknownField, "explainn", 400, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, b := ta.post(t, "/predict", c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, b)
			}
			e := decodeError(t, b)
			if e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.inMessage) {
				t.Fatalf("got %s, want code %s with %q", b, c.code, c.inMessage)
			}
			if (c.row == nil) != (e.Error.Row == nil) || (c.row != nil && *c.row != *e.Error.Row) ||
				(c.col == nil) != (e.Error.Column == nil) || (c.col != nil && *c.col != *e.Error.Column) {
				t.Fatalf("row/column %v/%v, want %v/%v: %s", e.Error.Row, e.Error.Column, c.row, c.col, b)
			}
		})
	}
	// /feedback takes rows and labels only.
	status, b := ta.post(t, "/feedback", `{"explain":true,"features":[`+rowWith(n, 0, "1")+`],"labels":[1]}`)
	if status != http.StatusBadRequest || decodeError(t, b).Error.Code != predict.CodeUnknownField {
		t.Fatalf("/feedback with explain: %d %s", status, b)
	}
}

// TestPredictExplainBudget: an explained batch is charged for its larger answer; one whose
// answer could never fit the memory budget is 413 at once, not an endless 503.
func TestPredictExplainBudget(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-body-bytes", "1048576", "-max-inflight-bytes", "3145728"))
	n := ta.reg.Current().NFeatures
	rows := make([][]int8, 4000)
	for i := range rows {
		rows[i] = make([]int8, n)
	}
	body := featuresBody(rows, false)
	// The lease is returned when the handler finishes, just after the answer is sent.
	idle := func() {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for ta.budget.used.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if used := ta.budget.used.Load(); used != 0 {
			t.Fatalf("%d bytes of budget still held", used)
		}
	}
	mustOK(t, ta, body) // without explanations it fits
	idle()
	status, b := ta.post(t, "/predict", withExplain(body, `"explain":true`))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %.300s", status, b)
	}
	if e := decodeError(t, b); e.Error.Code != predict.CodeTooManyRows || !strings.Contains(e.Error.Message, "fewer rows") {
		t.Fatalf("%s", b)
	}
	mustOK(t, ta, withExplain(featuresBody(rows[:100], false), `"explain":true`))
	idle()
}
