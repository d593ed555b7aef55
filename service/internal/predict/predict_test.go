package predict

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// newSchema is a Model without a library model: enough for the parser.
func newSchema(names ...string) *Model {
	m := &Model{NFeatures: len(names), FeatureNames: names, FeatureIndex: map[string]int{}}
	for i, n := range names {
		m.FeatureIndex[n] = i
	}
	return m
}

// TestAppendFloat: the answer's numbers parse back to the same float64 bits.
func TestAppendFloat(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	vals := []float64{0, 1, 0.5, 0.1, 1.0 / 3, 2.0 / 3, 1e-7, 1e-6, 9.99e-7, 5e-324, math.SmallestNonzeroFloat64,
		0.9999999999999999, 1e21, 1e20, 123456789.125, math.Nextafter(1, 0), math.Nextafter(0, 1)}
	for i := 0; i < 100000; i++ {
		vals = append(vals, rng.Float64(), math.Float64frombits(rng.Uint64()&^(1<<63)))
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s := string(appendFloat(nil, v))
		got, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(v) {
			t.Fatalf("%v -> %q -> %v (%v)", v, s, got, err)
		}
		if !strings.ContainsAny(s, ".e") {
			t.Fatalf("%v -> %q: not written as a float", v, s)
		}
	}
	if s := string(appendFloat(nil, 1)); s != "1.0" {
		t.Fatalf("1 -> %q", s)
	}
	if s := string(appendFloat(nil, 1e-7)); s != "1e-7" {
		t.Fatalf("1e-7 -> %q", s)
	}
}

// FuzzPredictParser: arbitrary bodies never panic, never produce a 5xx-class error, and a
// successful parse yields rows x n_features cells of 0, 1 or -1.
func FuzzPredictParser(f *testing.F) {
	// Two schemas: 3 features, and 11 (wide enough for the 4-cells-at-a-time fast path).
	schemas := []*Model{newSchema("a", "b=c", "d"), newSchema("a", "b=c", "d", "e", "f", "g", "h", "i", "j", "k", "l")}
	for _, s := range []string{
		`{"features":[[0,1,-1],[null,true,false]]}`, `{"instances":[{"a":1,"b=c":null},{}]}`,
		`{"features":[]}`, `{"instances":[{"x":[[[{}]]]}]}`, `{"features":[[1e0,0.0,-0]]}`, `{}`, ``,
		`{"features":[[0,1]]}`, `{"instances":[{"a":1,"a":1}]}`, `{"features":[[2,0,0]]}`, nested(50),
		`{"instances":[{"\u0061":1}]}`, `{"instances":[{"\ud83d\ude00":1}]}`, `{"instances":[{"\ud800":1}]}`,
		`{"features":[[0,1,0]],"labels":[1]}`, `{"ids":["a/0","b/1"],"labels":[0,1]}`,
		`{"features":[[0,1,0,1,1,0,0,1,0,1,1],[1,1,1,1,0,0,0,0,1,0,1]]}`, `{"features":[[0,1,0,1,2,0,0,1,0,1,1]]}`,
		`{"features":[[0,1,0,1,1,0,0,1,0,1,1,0]]}`, `{"features":[[0,1,0,1,1,0,0,1,0,1]]}`,
		`{"explain":true,"top_k":3,"features":[[0,1,-1]]}`, `{"features":[],"explain":false}`,
		`{"explain":"1","top_k":1e400,"instances":[]}`, `{"top_k":2,"explain":true,"explain":true}`,
	} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, false)
		f.Add([]byte(s), false, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ignore, feedback bool) {
		for _, m := range schemas {
			fuzzOne(t, m, body, ignore, feedback)
		}
	})
}

func fuzzOne(t *testing.T, m *Model, body []byte, ignore, feedback bool) {
	w := m.NFeatures
	var p Parser
	p.Reset(body, m, Limits{MaxRows: 50, MaxDepth: 8, IgnoreUnknown: ignore, Feedback: feedback}, nil, nil)
	err := p.Parse()
	if err != nil {
		if err.Status < 400 || err.Status > 499 || err.Code == "" || err.Message == "" {
			t.Fatalf("bad error %+v", err)
		}
		if err.Column != nil && (*err.Column < 0 || *err.Column > w) {
			t.Fatalf("column out of range: %+v", err)
		}
		return
	}
	if !json.Valid(body) {
		t.Fatalf("accepted invalid JSON %q", body)
	}
	if len(p.x) != p.rows*w {
		t.Fatalf("%d cells for %d rows", len(p.x), p.rows)
	}
	if feedback && len(p.labels) != max(p.rows, len(p.ids)) {
		t.Fatalf("%d labels for %d rows / %d ids", len(p.labels), p.rows, len(p.ids))
	}
	for _, v := range p.x {
		if v < -1 || v > 1 {
			t.Fatalf("cell %d", v)
		}
	}
	// The explanation options, against encoding/json (keys matched exactly: encoding/json's
	// struct fields would match case-insensitively).
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatalf("accepted %q, encoding/json: %v", body, err)
	}
	ex, hasEx := top["explain"]
	k, hasK := top["top_k"]
	if feedback && (hasEx || hasK) {
		t.Fatalf("feedback accepted explain options: %q", body)
	}
	if p.Explain() != (hasEx && string(bytes.TrimSpace(ex)) == "true") {
		t.Fatalf("Explain() %v for %q", p.Explain(), body)
	}
	if hasK {
		var kv float64
		if err := json.Unmarshal(k, &kv); err != nil || float64(p.TopK()) != kv || !p.Explain() {
			t.Fatalf("TopK() %d for %q", p.TopK(), body)
		}
	} else if p.TopK() != DefaultTopK {
		t.Fatalf("TopK() %d without top_k", p.TopK())
	}
	// Differential check of the by-column shape against encoding/json.
	var ref struct{ Features [][]any }
	if json.Unmarshal(body, &ref) == nil && ref.Features != nil {
		if len(ref.Features) != p.rows {
			t.Fatalf("%d rows, encoding/json sees %d", p.rows, len(ref.Features))
		}
		for r, row := range ref.Features {
			for c, v := range row {
				want := int8(-1)
				switch v := v.(type) {
				case bool:
					want = map[bool]int8{false: 0, true: 1}[v]
				case float64:
					want = int8(v)
				}
				if got := p.x[r*w+c]; got != want {
					t.Fatalf("row %d column %d: %d, encoding/json sees %v", r, c, got, v)
				}
			}
		}
	}
}

// TestStringEscapes: escapes decode as encoding/json decodes them, except that lone UTF-16
// surrogates and invalid UTF-8 are syntax errors (encoding/json substitutes U+FFFD).
func TestStringEscapes(t *testing.T) {
	m := newSchema("a", "é", "😀", "x\"y", "tab\there", "\u2028")
	for _, name := range []string{`a`, `\u0061`, `\u00e9`, `é`, `\ud83d\ude00`, `\uD83D\uDE00`, `x\"y`, `tab\there`, `\u2028`} {
		var p Parser
		p.Reset([]byte(`{"instances":[{"`+name+`":1}]}`), m, Limits{MaxRows: 5, MaxDepth: 8}, nil, nil)
		if err := p.Parse(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{`\ud800`, `\udfff`, `\ud83d`, `\ud83dx`, `\ud83d\u0041`, `\ude00\ud83d`, `\u12`, `\u12g4`, `\x`, "\xff", "\xc3", "\xed\xa0\x80"} {
		var p Parser
		p.Reset([]byte(`{"instances":[{"`+name+`":1}]}`), m, Limits{MaxRows: 5, MaxDepth: 8, IgnoreUnknown: true}, nil, nil)
		err := p.Parse()
		if err == nil || err.Code != CodeInvalidJSON || err.Offset == nil {
			t.Errorf("%q: %+v, want invalid_json with an offset", name, err)
		}
	}
}

// TestFeedbackShape: labels and ids are accepted only in feedback mode.
func TestFeedbackShape(t *testing.T) {
	m := newSchema("a", "b")
	parse := func(body string, fb bool) (*Parser, *Error) {
		p := &Parser{}
		p.Reset([]byte(body), m, Limits{MaxRows: 3, MaxDepth: 8, Feedback: fb}, nil, nil)
		return p, p.Parse()
	}
	p, err := parse(`{"labels":[1,0,true],"features":[[0,1],[1,null],[0,0]]}`, true)
	if err != nil || p.Rows() != 3 || len(p.Labels()) != 3 || p.Labels()[2] != 1 {
		t.Fatalf("features + labels: %+v %v", p, err)
	}
	p, err = parse(`{"ids":["r/0","r/1"],"labels":[0,1]}`, true)
	if err != nil || len(p.IDs()) != 2 || p.IDs()[1] != "r/1" || p.Rows() != 0 {
		t.Fatalf("ids + labels: %v", err)
	}
	for body, code := range map[string]string{
		`{"labels":[1],"features":[[0,1]]}`:         CodeUnknownField,
		`{"ids":["r/0"]}`:                           CodeUnknownField,
		`{"labels":[0,0,0,0],"features":[]}`:        CodeTooManyRows,
		`{"labels":[0],"labels":[0],"features":[]}`: CodeBadShape,
	} {
		fb := !strings.Contains(body, `"labels":[1],"features"`) && body != `{"ids":["r/0"]}`
		if _, err := parse(body, fb); err == nil || err.Code != code {
			t.Errorf("%s (feedback %v): %+v, want %s", body, fb, err, code)
		}
	}
}

// TestCheckContentType: application/json (utf-8) without an encoding, nothing else.
func TestCheckContentType(t *testing.T) {
	for _, ok := range [][2]string{{"application/json", ""}, {"APPLICATION/JSON; charset=UTF-8", "identity"}, {"application/json;charset=utf8", " "}} {
		if e := CheckContentType(ok[0], ok[1]); e != nil {
			t.Errorf("%q: %v", ok, e)
		}
	}
	for _, bad := range [][2]string{{"", ""}, {"text/json", ""}, {"application/json", "gzip"}, {"application/json; charset=utf-16", ""},
		{"application/json, text/plain", ""}, {"application/x-www-form-urlencoded", ""}} {
		if e := CheckContentType(bad[0], bad[1]); e == nil || e.Status != 415 || e.Code != CodeUnsupportedMedia {
			t.Errorf("%q accepted: %v", bad, e)
		}
	}
}

// TestReserveRefuses: the matrix grows only as far as Reserve allows.
func TestReserveRefuses(t *testing.T) {
	m := newSchema("a", "b", "c")
	budget := 10
	var p Parser
	p.Reset([]byte(`{"instances":[{},{},{},{},{},{},{},{}]}`), m, Limits{MaxRows: 100, MaxDepth: 8,
		Reserve: func(n int) bool { budget -= n; return budget >= 0 }}, nil, nil)
	if err := p.Parse(); err == nil || err.Code != CodeOverloaded || err.Status != 503 {
		t.Fatalf("%+v", err)
	}
}

// TestPlainCellsDifferential: wide rows mixing the fast-path spelling ("0,", "1,") with every
// other accepted spelling and with bad values parse exactly as encoding/json reads them, and
// a bad cell is reported at its own column whichever path reaches it.
func TestPlainCellsDifferential(t *testing.T) {
	names := make([]string, 37)
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
	}
	m := newSchema(names...)
	rng := rand.New(rand.NewSource(9))
	spell := map[int8][]string{0: {"0", "0", "0", " 0", "0 ", "false", "0.0"}, 1: {"1", "1", "1", "1 ", "true", "1e0"}, -1: {"-1", "null", " null"}}
	for iter := 0; iter < 3000; iter++ {
		rows := 1 + rng.Intn(4)
		want := make([]int8, 0, rows*len(names))
		var b strings.Builder
		b.WriteString(`{"features":[`)
		badRow, badCol := -1, -1
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('[')
			for c := range names {
				if c > 0 {
					b.WriteByte(',')
				}
				v := int8(rng.Intn(3) - 1)
				if rng.Intn(3) > 0 {
					v = int8(rng.Intn(2)) // mostly plain 0/1
				}
				s := spell[v][rng.Intn(len(spell[v]))]
				if badRow < 0 && rng.Intn(400) == 0 {
					s, badRow, badCol = "2", r, c
				}
				b.WriteString(s)
				want = append(want, v)
			}
			b.WriteByte(']')
		}
		b.WriteString("]}")
		var p Parser
		p.Reset([]byte(b.String()), m, Limits{MaxRows: 10, MaxDepth: 8}, nil, nil)
		err := p.Parse()
		if badRow >= 0 {
			if err == nil || err.Code != CodeBadValue || *err.Row != badRow || *err.Column != badCol {
				t.Fatalf("bad cell at row %d column %d: %+v\n%s", badRow, badCol, err, b.String())
			}
			continue
		}
		if err != nil || string(int8Bytes(p.X())) != string(int8Bytes(want)) {
			t.Fatalf("%v\n%s\ngot  %v\nwant %v", err, b.String(), p.X(), want)
		}
	}
	// A row one value too long or short is still caught after a fast run.
	long := `{"features":[[` + strings.Repeat("0,", 37) + `0]]}`
	short := `{"features":[[` + strings.Repeat("0,", 35) + `0]]}`
	for body, col := range map[string]int{long: 37, short: 36} {
		var p Parser
		p.Reset([]byte(body), m, Limits{MaxRows: 10, MaxDepth: 8}, nil, nil)
		if err := p.Parse(); err == nil || err.Code != CodeWrongWidth || *err.Column != col {
			t.Errorf("width %d: %+v", col, err)
		}
	}
}

func int8Bytes(x []int8) []byte {
	b := make([]byte, len(x))
	for i, v := range x {
		b[i] = byte(v)
	}
	return b
}

// TestFloatMemo: answers written with the memo are byte-identical to formatting every value,
// with repeats, hash collisions and many distinct values, across answers.
func TestFloatMemo(t *testing.T) {
	m := newSchema("a")
	m.versionJSON, m.digestJSON = []byte(`"v"`), []byte(`"d"`)
	rng := rand.New(rand.NewSource(4))
	var memo FloatMemo
	var buf []byte
	for iter := 0; iter < 500; iter++ {
		n := 1 + rng.Intn(300)
		distinct := make([]float64, 1+rng.Intn(200))
		for i := range distinct {
			distinct[i] = rng.Float64()
		}
		labels := make([]int32, n)
		proba := make([]float64, 2*n)
		for i := range proba {
			proba[i] = distinct[rng.Intn(len(distinct))]
		}
		buf = AppendAnswer(buf[:0], labels, proba, m, &memo)
		var want []byte
		want = append(want, `{"predictions":[`...)
		for i := range labels {
			if i > 0 {
				want = append(want, ',')
			}
			want = append(want, '0')
		}
		want = append(want, `],"probabilities":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				want = append(want, ',')
			}
			want = append(append(append(append(append(want, '['), appendFloat(nil, proba[2*i])...), ','), appendFloat(nil, proba[2*i+1])...), ']')
		}
		want = append(want, `],"model_version":"v","model_digest":"d"}`+"\n"...)
		if string(buf) != string(want) {
			t.Fatalf("iteration %d: memo answer differs", iter)
		}
	}
}
