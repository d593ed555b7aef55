package main

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/thetatree/thetatree/bindings/go/internal/refdata"
)

// Same locations as the package tests: TT_REFERENCE_DIR, TT_REFERENCE_MODELS_DIR.
func paths(t *testing.T) (ref, models string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ref = refdata.Dir(root)
	models = os.Getenv("TT_REFERENCE_MODELS_DIR")
	if models == "" {
		models = filepath.Join(root, "target", "reference-models")
	}
	return ref, models
}

// reference reads a reference file by its plain name (stored plain or gzipped).
func reference(t *testing.T, ref, rel string) []byte {
	t.Helper()
	b, err := refdata.ReadFile(ref, rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestMatchesGolden runs the example on reference inputs and compares its output with the
// golden files: labels, and probabilities bit for bit after a round trip through text.
func TestMatchesGolden(t *testing.T) {
	ref, models := paths(t)
	for _, c := range []struct{ model, dataset, batch string }{
		{"mushroom_gini_d5_lgk12", "mushroom", "1024"},
		{"du_entropy_d14_lgk12", "du", "7"},
	} {
		for _, suffix := range []string{"X", "X_missing"} {
			t.Run(c.model+"/"+suffix, func(t *testing.T) {
				// The CSV arrives on standard input ("-"), as in `zcat X.csv.gz | predict`.
				input := reference(t, ref, "inputs/"+c.dataset+"_"+suffix+".csv")
				var out, errOut bytes.Buffer
				err := run([]string{"-id", "row", "-batch", c.batch,
					filepath.Join(models, c.model+".ttm"), "-"}, bytes.NewReader(input), &out, &errOut)
				if err != nil {
					t.Fatalf("%v\n%s", err, errOut.String())
				}
				golden := reference(t, ref, "golden/"+c.model+"__"+suffix+".csv")
				got, want := readCSV(t, out.Bytes()), readCSV(t, golden)
				if strings.Join(got[0], ",") != "row,pred,label,p0,p1" {
					t.Fatalf("header %q", got[0])
				}
				if len(got) != len(want) {
					t.Fatalf("%d output rows, golden %d", len(got)-1, len(want)-1)
				}
				for i := 1; i < len(want); i++ {
					g, w := got[i], want[i]
					if g[0] != w[0] || g[1] != w[2] {
						t.Fatalf("line %d: row %s pred %s, golden row %s pred %s", i+1, g[0], g[1], w[0], w[2])
					}
					for k := 0; k < 2; k++ {
						gv, err1 := strconv.ParseFloat(g[3+k], 64)
						wv, err2 := strconv.ParseFloat(w[3+k], 64)
						if err1 != nil || err2 != nil || math.Float64bits(gv) != math.Float64bits(wv) {
							t.Fatalf("line %d: p%d %q, golden %q", i+1, k, g[3+k], w[3+k])
						}
					}
				}
			})
		}
	}
}

func TestReportsBadInput(t *testing.T) {
	ref, models := paths(t)
	model := filepath.Join(models, "mushroom_gini_d5_lgk12.ttm")
	input := reference(t, ref, "inputs/mushroom_X.csv")
	lines := strings.SplitAfter(string(input), "\n")[:10]
	dir := t.TempDir()
	write := func(name string, lines []string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Every feature of CSV line 5 set to 2: the first value the traversal reads is rejected.
	bad := append([]string(nil), lines...)
	cells := strings.Split(strings.TrimSuffix(bad[4], "\n"), ",")
	for i := 1; i < len(cells); i++ {
		cells[i] = "2"
	}
	bad[4] = strings.Join(cells, ",") + "\n"
	var out, errOut bytes.Buffer
	err := run([]string{"-batch", "2", model, write("bad.csv", bad)}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "line 5,") || !strings.Contains(err.Error(), "TT_ERR_INPUT_VALUE") {
		t.Fatalf("got %v, want an input value error on line 5", err)
	}

	// A model feature missing from the header.
	short := append([]string(nil), lines...)
	for i, l := range short {
		short[i] = l[:strings.LastIndexByte(strings.TrimSuffix(l, "\n"), ',')] + "\n"
	}
	err = run([]string{model, write("short.csv", short)}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "not in the CSV header") {
		t.Fatalf("got %v, want a missing-feature error", err)
	}

	// A non-number cell.
	nan := append([]string(nil), lines...)
	nan[2] = strings.Replace(nan[2], ",0,", ",x,", 1)
	err = run([]string{model, write("nan.csv", nan)}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "line 3,") {
		t.Fatalf("got %v, want a parse error on line 3", err)
	}

	// A broken model file.
	err = run([]string{write("model.ttm", []string{"not a model"}), write("ok.csv", lines)}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "TT_ERR_") {
		t.Fatalf("got %v, want a load error", err)
	}
}
