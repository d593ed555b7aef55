package thetatree

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/thetatree/thetatree/bindings/go/internal/refdata"
)

// Test data locations. Everything expected is read from the reference golden files or
// derived from the reference model JSON: no expected output is written in the tests.
//
//	TT_REFERENCE_DIR         golden data (default the bundled <repo>/tests/data/reference;
//	                         files are read plain or gzipped, see internal/refdata)
//	TT_REFERENCE_MODELS_DIR  compiled .ttm models (default <repo>/target/reference-models,
//	                         made by <repo>/.ci/compile-reference-models)

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func referenceDir(t testing.TB) string {
	t.Helper()
	return refdata.Dir(repoRoot(t))
}

// openReference opens a reference file by its plain name (rel, slash-separated).
func openReference(t testing.TB, rel string) io.ReadCloser {
	t.Helper()
	r, err := refdata.Open(referenceDir(t), rel)
	if err != nil {
		t.Fatalf("%v (TT_REFERENCE_DIR overrides tests/data/reference)", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func modelsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("TT_REFERENCE_MODELS_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(t), "target", "reference-models")
}

type refModel struct {
	name, modelJSON, mapping, dataset string
}

var (
	refModelsOnce sync.Once
	refModelsList []refModel
	refModelsErr  error
)

// referenceModels parses <repo>/tests/reference_models.tsv.
func referenceModels(t testing.TB) []refModel {
	t.Helper()
	refModelsOnce.Do(func() {
		f, err := os.Open(filepath.Join(repoRoot(t), "tests", "reference_models.tsv"))
		if err != nil {
			refModelsErr = err
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			cols := strings.Split(line, "\t")
			if len(cols) != 4 {
				refModelsErr = fmt.Errorf("reference_models.tsv: want 4 tab-separated columns: %q", line)
				return
			}
			refModelsList = append(refModelsList, refModel{cols[0], cols[1], cols[2], cols[3]})
		}
		refModelsErr = sc.Err()
		if refModelsErr == nil && len(refModelsList) == 0 {
			refModelsErr = errors.New("reference_models.tsv lists no model")
		}
	})
	if refModelsErr != nil {
		t.Fatalf("reading reference model list: %v", refModelsErr)
	}
	return refModelsList
}

func refModelByName(t testing.TB, name string) refModel {
	t.Helper()
	for _, m := range referenceModels(t) {
		if m.name == name {
			return m
		}
	}
	t.Fatalf("model %s is not in tests/reference_models.tsv", name)
	return refModel{}
}

// modelPath returns the compiled model, failing (not skipping) when it is missing.
func modelPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(modelsDir(t), name+".ttm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("compiled reference model missing (%v): run .ci/compile-reference-models "+
			"in the repository root (or bindings/go/run-tests.sh)", err)
	}
	return p
}

func loadModel(t testing.TB, name string, opts ...Option) *Model {
	t.Helper()
	m, err := Load(modelPath(t, name), opts...)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// dataset is an input matrix from inputs/<ds>_X[_missing].csv.
type dataset struct {
	header []string // feature names (the file's header without "row")
	rowIDs []int64
	nRows  int
	nCols  int
	i8     []int8    // missing = -1
	f64    []float64 // missing = NaN
}

func (d *dataset) rowsI8(from, to int) []int8 { return d.i8[from*d.nCols : to*d.nCols] }
func (d *dataset) rowsF64(from, to int) []float64 {
	return d.f64[from*d.nCols : to*d.nCols]
}

var (
	dataMu    sync.Mutex
	dataCache = map[string]*dataset{}
)

func inputSuffix(missing bool) string {
	if missing {
		return "X_missing"
	}
	return "X"
}

func readDataset(t testing.TB, ds string, missing bool) *dataset {
	t.Helper()
	rel := "inputs/" + ds + "_" + inputSuffix(missing) + ".csv"
	path := filepath.Join(referenceDir(t), rel)
	dataMu.Lock()
	defer dataMu.Unlock()
	if d, ok := dataCache[path]; ok {
		return d
	}
	r := csv.NewReader(bufio.NewReader(openReference(t, rel)))
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(head) < 2 || head[0] != "row" {
		t.Fatalf("%s: header must start with row and name features: %q", path, head)
	}
	d := &dataset{header: append([]string(nil), head[1:]...), nCols: len(head) - 1}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		id, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil {
			t.Fatalf("%s: row id %q: %v", path, rec[0], err)
		}
		d.rowIDs = append(d.rowIDs, id)
		for _, cell := range rec[1:] {
			switch cell {
			case "0":
				d.i8 = append(d.i8, 0)
				d.f64 = append(d.f64, 0)
			case "1":
				d.i8 = append(d.i8, 1)
				d.f64 = append(d.f64, 1)
			case "":
				if !missing {
					t.Fatalf("%s: empty cell in a clean input", path)
				}
				d.i8 = append(d.i8, -1)
				d.f64 = append(d.f64, math.NaN())
			default:
				t.Fatalf("%s: unexpected cell %q", path, cell)
			}
		}
	}
	d.nRows = len(d.rowIDs)
	if d.nRows == 0 {
		t.Fatalf("%s: no rows", path)
	}
	dataCache[path] = d
	return d
}

// goldenRow is one row of golden/<model>__X[_missing].csv.
type goldenRow struct {
	row      int64
	yTrue    int32
	pred     int32
	hasProba bool // false where p0/p1 are empty (pruned leaf without probabilities)
	p0, p1   float64
	leaf     int32 // leaf_preorder: the reached leaf's pre-order index (= the .ttm node index)
}

func readGolden(t testing.TB, model string, missing bool) []goldenRow {
	t.Helper()
	path := "golden/" + model + "__" + inputSuffix(missing) + ".csv"
	r := csv.NewReader(bufio.NewReader(openReference(t, path)))
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(head, ",") != "row,y_true,pred,p0,p1,leaf_preorder" {
		t.Fatalf("%s: unexpected header %q", path, head)
	}
	var rows []goldenRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var g goldenRow
		g.row = mustInt(t, rec[0])
		g.yTrue = int32(mustInt(t, rec[1]))
		g.pred = int32(mustInt(t, rec[2]))
		switch {
		case rec[3] == "" && rec[4] == "":
		case rec[3] != "" && rec[4] != "":
			g.hasProba = true
			g.p0 = mustFloat(t, rec[3])
			g.p1 = mustFloat(t, rec[4])
		default:
			t.Fatalf("%s: only one of p0/p1 is empty: %q", path, rec)
		}
		g.leaf = int32(mustInt(t, rec[5]))
		rows = append(rows, g)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", path)
	}
	return rows
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad integer %q: %v", s, err)
	}
	return v
}

func mustFloat(t testing.TB, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad float %q: %v", s, err)
	}
	return v
}

// jsonNode is a node of the reference model JSON (tree_structure).
type jsonNode struct {
	Type       string    `json:"type"`
	FeatureIdx *int      `json:"feature_idx"`
	NSamples   float64   `json:"n_samples"`
	Left       *jsonNode `json:"left"`
	Right      *jsonNode `json:"right"`
}

type jsonModel struct {
	Hyperparameters map[string]any `json:"hyperparameters"`
	TreeStructure   *jsonNode      `json:"tree_structure"`
}

// referenceTree reads the reference JSON model (a wrapped export or a bare tree_to_json tree).
func referenceTree(t testing.TB, rm refModel) (root *jsonNode, hyper map[string]any) {
	t.Helper()
	b, err := io.ReadAll(openReference(t, rm.modelJSON))
	if err != nil {
		t.Fatalf("%s: %v", rm.modelJSON, err)
	}
	var wrapped jsonModel
	if err := json.Unmarshal(b, &wrapped); err != nil {
		t.Fatal(err)
	}
	if wrapped.TreeStructure != nil {
		return wrapped.TreeStructure, wrapped.Hyperparameters
	}
	var bare jsonNode
	if err := json.Unmarshal(b, &bare); err != nil {
		t.Fatal(err)
	}
	if bare.Type == "" {
		t.Fatalf("%s: neither a wrapped export nor a tree", rm.modelJSON)
	}
	return &bare, nil
}

// treeStats counts nodes and leaves and measures the depth (edges) of a reference tree.
func treeStats(t testing.TB, n *jsonNode, depth int) (nodes, leaves, maxDepth int) {
	t.Helper()
	switch n.Type {
	case "leaf":
		return 1, 1, depth
	case "split":
		if n.Left == nil || n.Right == nil {
			t.Fatal("split node without two children")
		}
		ln, ll, ld := treeStats(t, n.Left, depth+1)
		rn, rl, rd := treeStats(t, n.Right, depth+1)
		return 1 + ln + rn, ll + rl, max(ld, rd)
	default:
		t.Fatalf("unexpected node type %q (truncated export?)", n.Type)
	}
	return
}

// asError extracts the *Error of err, failing the test if it is not one with the code want.
func asError(t testing.TB, err error, want Code) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *thetatree.Error", err, err)
	}
	if !errors.Is(err, want) || e.Code != want {
		t.Fatalf("got %v, want code %v", err, want)
	}
	if e.Message == "" {
		t.Fatalf("error %v has no message", err)
	}
	return e
}

// edgeRow is one line of golden/edge_values__<model>.csv.
type edgeRow struct {
	row    int64
	col    int
	value  string // as Python printed it: "0.0", "nan", "1e-300", "int64(-1)", ...
	public string // "ok" or the exception name
	pred   int32  // the traverser's label
	p0, p1 float64
}

func readEdgeValues(t testing.TB, model string) []edgeRow {
	t.Helper()
	path := "golden/edge_values__" + model + ".csv"
	recs, err := csv.NewReader(openReference(t, path)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 2 || strings.Join(recs[0], ",") !=
		"row,modified_feature_idx,value,public_predict,traverser_pred,traverser_p0,traverser_p1,leaf_preorder" {
		t.Fatalf("%s: unexpected layout", path)
	}
	var rows []edgeRow
	for _, rec := range recs[1:] {
		r := edgeRow{
			row:   mustInt(t, rec[0]),
			col:   int(mustInt(t, rec[1])),
			value: rec[2],
			pred:  int32(mustInt(t, rec[4])),
			p0:    mustFloat(t, rec[5]),
			p1:    mustFloat(t, rec[6]),
		}
		r.public = rec[3]
		if label, ok := strings.CutPrefix(rec[3], "ok:"); ok {
			r.public = "ok"
			if int32(mustInt(t, label)) != r.pred {
				t.Fatalf("%s: public label %s differs from the traverser's %d", path, label, r.pred)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// parsePyFloat parses a Python float repr ("nan", "1e-300", "-0.0"); other text fails.
func parsePyFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// int8Value converts an edge value to int8 when it is an integer in range.
func int8Value(s string) (int8, bool) {
	if inner, ok := strings.CutPrefix(s, "int64("); ok {
		s = strings.TrimSuffix(inner, ")")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v != math.Trunc(v) || v < math.MinInt8 || v > math.MaxInt8 {
		return 0, false
	}
	return int8(v), true
}
