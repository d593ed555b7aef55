package thetatree

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
	"os"
	"reflect"
	"testing"
)

// Rows whose golden p0/p1 are empty are allowed only for this model: a pruned leaf without
// probabilities (reference README); there only the label is compared.
var modelsWithoutSomeProbas = map[string]bool{"mushroom_gini_pruned_lgk12": true}

type loadMode struct {
	name string
	load func(t *testing.T, path string) *Model
}

var loadModes = []loadMode{
	{"mmap", func(t *testing.T, path string) *Model {
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}},
	{"copy", func(t *testing.T, path string) *Model {
		m, err := Load(path, WithCopy())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}},
	{"bytes", func(t *testing.T, path string) *Model {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := LoadBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		clear(b) // the library copied the bytes: scribbling over ours must not matter
		return m
	}},
	{"bytes+copy", func(t *testing.T, path string) *Model {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := LoadBytes(b, WithCopy()) // redundant flag, accepted
		if err != nil {
			t.Fatal(err)
		}
		clear(b)
		return m
	}},
}

// TestParity checks every reference model, on the clean and the missing-value input, with
// int8 and float64 input, labels and probabilities, against the golden files, bit for bit.
func TestParity(t *testing.T) {
	for _, rm := range referenceModels(t) {
		t.Run(rm.name, func(t *testing.T) {
			path := modelPath(t, rm.name)
			for _, missing := range []bool{false, true} {
				t.Run(inputSuffix(missing), func(t *testing.T) {
					data := readDataset(t, rm.dataset, missing)
					golden := readGolden(t, rm.name, missing)
					if len(golden) != data.nRows {
						t.Fatalf("golden has %d rows, input %d", len(golden), data.nRows)
					}
					for i, g := range golden {
						if g.row != data.rowIDs[i] {
							t.Fatalf("line %d: golden row id %d, input row id %d", i, g.row, data.rowIDs[i])
						}
						if !g.hasProba && !modelsWithoutSomeProbas[rm.name] {
							t.Fatalf("row %d: golden p0/p1 empty for a model that should have them", g.row)
						}
					}
					for _, mode := range loadModes {
						t.Run(mode.name, func(t *testing.T) {
							m := mode.load(t, path)
							defer m.Close()
							checkParity(t, m, data, golden)
						})
					}
				})
			}
		})
	}
}

func checkParity(t *testing.T, m *Model, data *dataset, golden []goldenRow) {
	t.Helper()
	if m.NFeatures() != data.nCols {
		t.Fatalf("NFeatures %d, input has %d columns", m.NFeatures(), data.nCols)
	}
	n := data.nRows

	// Whole matrix in one call, through the allocating API.
	labels8, err := m.Predict(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	labels64, err := m.PredictF64(data.f64, n)
	if err != nil {
		t.Fatal(err)
	}
	proba8, err := m.PredictProba(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	proba64, err := m.PredictProbaF64(data.f64, n)
	if err != nil {
		t.Fatal(err)
	}
	compareAll(t, "batch", golden, 0, labels8, labels64, proba8, proba64)

	// The Into API in uneven chunks, reusing (dirty) buffers: offsets and row independence.
	const chunk = 37
	l8 := make([]int32, chunk)
	l64 := make([]int32, chunk)
	p8 := make([]float64, 2*chunk)
	p64 := make([]float64, 2*chunk)
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		k := to - from
		if err := m.PredictInto(data.rowsI8(from, to), k, l8); err != nil {
			t.Fatal(err)
		}
		if err := m.PredictF64Into(data.rowsF64(from, to), k, l64); err != nil {
			t.Fatal(err)
		}
		if err := m.PredictProbaInto(data.rowsI8(from, to), k, p8); err != nil {
			t.Fatal(err)
		}
		if err := m.PredictProbaF64Into(data.rowsF64(from, to), k, p64); err != nil {
			t.Fatal(err)
		}
		compareAll(t, "chunked", golden[from:to], from, l8[:k], l64[:k], p8[:2*k], p64[:2*k])
	}
}

func compareAll(t *testing.T, how string, golden []goldenRow, base int, l8, l64 []int32, p8, p64 []float64) {
	t.Helper()
	bad := 0
	for i, g := range golden {
		fail := func(format string, args ...any) {
			bad++
			if bad <= 10 {
				t.Errorf("%s: row %d (input line %d): "+format, append([]any{how, g.row, base + i}, args...)...)
			}
		}
		if l8[i] != g.pred {
			fail("int8 label %d, golden %d", l8[i], g.pred)
		}
		if l64[i] != g.pred {
			fail("float64 label %d, golden %d", l64[i], g.pred)
		}
		if !g.hasProba {
			continue
		}
		for _, p := range []struct {
			kind   string
			p0, p1 float64
		}{{"int8", p8[2*i], p8[2*i+1]}, {"float64", p64[2*i], p64[2*i+1]}} {
			if math.Float64bits(p.p0) != math.Float64bits(g.p0) || math.Float64bits(p.p1) != math.Float64bits(g.p1) {
				fail("%s proba (%v, %v), golden (%v, %v)", p.kind, p.p0, p.p1, g.p0, g.p1)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d mismatches", how, bad)
	}
}

// TestEdgeValues replays golden/edge_values__mushroom_gini_d5_lgk12.csv: rows 0-3 with the
// root split's column replaced by various values. Accepted values ("ok:<label>" in the
// reference's public predict) must give the traverser's label and probabilities; NaN (and,
// by this library's int8 convention, -1) is missing and must follow the traverser; values
// the reference rejects must fail with ErrInputValue naming the row and column.
func TestEdgeValues(t *testing.T) {
	const model = "mushroom_gini_d5_lgk12"
	rm := refModelByName(t, model)
	m := loadModel(t, model)
	data := readDataset(t, rm.dataset, false)
	rows := readEdgeValues(t, model)

	byRow := map[int64]int{}
	for i, id := range data.rowIDs {
		byRow[id] = i
	}
	// The traverser's result for a missing value of each row, from the "nan" lines.
	missingResult := map[int64]edgeRow{}
	for _, r := range rows {
		if r.value == "nan" {
			missingResult[r.row] = r
		}
	}
	checked := map[int]bool{}
	for i, r := range rows {
		idx, ok := byRow[r.row]
		if !ok {
			t.Fatalf("edge row %d is not in the input", r.row)
		}
		// Put the modified row in the middle of a 5-row batch of clean rows, so that the
		// reported row is the batch position, not 0.
		const pos = 2
		batch8 := make([]int8, 0, 5*data.nCols)
		batch64 := make([]float64, 0, 5*data.nCols)
		for k := 0; k < 5; k++ {
			src := idx
			if k != pos {
				src = (idx + k + 1) % data.nRows
			}
			batch8 = append(batch8, data.rowsI8(src, src+1)...)
			batch64 = append(batch64, data.rowsF64(src, src+1)...)
		}
		cell := pos*data.nCols + r.col

		// float64 input: the value as written by Python.
		v, err := parsePyFloat(r.value)
		if err == nil {
			batch64[cell] = v
			accepted := r.public == "ok" || r.value == "nan"
			checkEdge(t, m, "float64", r, accepted, pos, func(out []int32, proba []float64) (error, error) {
				return m.PredictF64Into(batch64, 5, out), m.PredictProbaF64Into(batch64, 5, proba)
			})
			checked[i] = true
		}
		// int8 input: values representable as int8; -1 is "missing" in this library.
		if iv, ok := int8Value(r.value); ok {
			batch8[cell] = iv
			expect := r
			accepted := r.public == "ok"
			if iv == -1 {
				expect, accepted = missingResult[r.row], true
			}
			checkEdge(t, m, "int8", expect, accepted, pos, func(out []int32, proba []float64) (error, error) {
				return m.PredictInto(batch8, 5, out), m.PredictProbaInto(batch8, 5, proba)
			})
			checked[i] = true
		}
	}
	if len(checked) != len(rows) {
		t.Fatalf("only %d of %d edge rows were checked", len(checked), len(rows))
	}
}

func checkEdge(t *testing.T, m *Model, kind string, r edgeRow, accepted bool, pos int,
	run func(out []int32, proba []float64) (error, error)) {
	t.Helper()
	out := make([]int32, 5)
	proba := make([]float64, 10)
	errL, errP := run(out, proba)
	if !accepted {
		for _, err := range []error{errL, errP} {
			e := asError(t, err, ErrInputValue)
			if e.Row != int64(pos) || e.Column != int64(r.col) {
				t.Errorf("%s value %s: error at row %d column %d, want row %d column %d",
					kind, r.value, e.Row, e.Column, pos, r.col)
			}
		}
		return
	}
	if errL != nil || errP != nil {
		t.Fatalf("%s value %s (row %d): %v / %v", kind, r.value, r.row, errL, errP)
	}
	if out[pos] != r.pred ||
		math.Float64bits(proba[2*pos]) != math.Float64bits(r.p0) ||
		math.Float64bits(proba[2*pos+1]) != math.Float64bits(r.p1) {
		t.Errorf("%s value %s (row %d): got %d (%v, %v), golden %d (%v, %v)", kind, r.value, r.row,
			out[pos], proba[2*pos], proba[2*pos+1], r.pred, r.p0, r.p1)
	}
}

// TestMetadata checks the metadata of every reference model against independent sources:
// feature names against the input CSV header, node/leaf counts and depth against the
// reference JSON tree, CRC-32 and SHA-256 against the file bytes.
func TestMetadata(t *testing.T) {
	for _, rm := range referenceModels(t) {
		t.Run(rm.name, func(t *testing.T) {
			path := modelPath(t, rm.name)
			m := loadModel(t, rm.name)
			data := readDataset(t, rm.dataset, false)

			if !reflect.DeepEqual(m.FeatureNames(), data.header) {
				t.Errorf("FeatureNames differ from the input header")
			}
			for i, name := range data.header {
				got, err := m.FeatureName(i)
				if err != nil || got != name {
					t.Fatalf("FeatureName(%d) = %q, %v; want %q", i, got, err, name)
				}
				idx, err := m.FeatureIndex(name)
				if err != nil || idx != i {
					t.Fatalf("FeatureIndex(%q) = %d, %v; want %d", name, idx, err, i)
				}
			}
			names := m.FeatureNames()
			names[0] = "scribbled"
			if m.FeatureNames()[0] == "scribbled" {
				t.Error("FeatureNames returns the model's own slice")
			}

			root, hyper := referenceTree(t, rm)
			nodes, leaves, depth := treeStats(t, root, 0)
			if m.NNodes() != nodes || m.NLeaves() != leaves || m.MaxDepth() != depth {
				t.Errorf("nodes/leaves/depth %d/%d/%d, reference JSON %d/%d/%d",
					m.NNodes(), m.NLeaves(), m.MaxDepth(), nodes, leaves, depth)
			}
			if m.NClasses() != 2 || len(m.ClassLabels()) != 2 || m.ClassLabels()[0] == m.ClassLabels()[1] {
				t.Errorf("NClasses %d, ClassLabels %q", m.NClasses(), m.ClassLabels())
			}
			// .ci/compile-reference-models passes --model-version <name>.
			if m.Version() != rm.name {
				t.Errorf("Version %q, want %q", m.Version(), rm.name)
			}
			var meta map[string]any
			if err := json.Unmarshal([]byte(m.MetadataJSON()), &meta); err != nil {
				t.Fatalf("MetadataJSON is not a JSON object: %v", err)
			}
			if hyper != nil && !reflect.DeepEqual(meta["hyperparameters"], hyper) {
				t.Errorf("metadata hyperparameters %v, reference JSON %v", meta["hyperparameters"], hyper)
			}

			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Format spec (src/format.rs): CRC-32 (IEEE) of bytes [0,32) and [36,file_len),
			// stored little-endian at offset 32.
			h := crc32.NewIEEE()
			h.Write(b[:32])
			h.Write(b[36:])
			if m.CRC32() != h.Sum32() || m.CRC32() != binary.LittleEndian.Uint32(b[32:36]) {
				t.Errorf("CRC32 %08x, computed %08x, stored %08x", m.CRC32(), h.Sum32(), binary.LittleEndian.Uint32(b[32:36]))
			}
			if m.Digest() != sha256.Sum256(b) {
				t.Errorf("Digest %s differs from the SHA-256 of the file", m.DigestHex())
			}
			if m.IsSigned() {
				t.Error("an unsigned reference model reports IsSigned")
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			// Cached metadata stays valid after Close.
			if m.NFeatures() != data.nCols || m.Digest() != sha256.Sum256(b) || m.Version() != rm.name {
				t.Error("metadata changed after Close")
			}
		})
	}
}
