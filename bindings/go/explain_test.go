package thetatree

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Explanation tests. The expected leaves are the golden files' leaf_preorder column; paths
// are checked by walking the nodes that Node reads with the row's own values; contributions
// are checked against that walk and against PredictProba. The node table itself is checked
// against the reference JSON tree.

// nodeTable reads every node of m through Node.
func nodeTable(t testing.TB, m *Model) []Node {
	t.Helper()
	nodes := make([]Node, m.NNodes())
	for i := range nodes {
		n, err := m.Node(i)
		if err != nil {
			t.Fatalf("Node(%d): %v", i, err)
		}
		if n.Index != i {
			t.Fatalf("Node(%d).Index = %d", i, n.Index)
		}
		nodes[i] = n
	}
	return nodes
}

// walk is the path a row takes through nodes (0 absent -> Left, 1 present -> Right, missing
// -> MissingRight), computed in the test from the node table.
func walk(nodes []Node, row []int8) []int32 {
	path := []int32{0}
	i := 0
	for !nodes[i].IsLeaf {
		n := nodes[i]
		switch v := row[n.Feature]; {
		case v == 1 || (v == -1 && n.MissingRight):
			i = n.Right
		default:
			i = n.Left
		}
		path = append(path, int32(i))
	}
	return path
}

// TestNodeAgreesWithModel: Node(i) for every node of every model is the reference JSON
// tree's node i in pre-order: kind, feature, sample count, children; leaf count and depth
// agree with the metadata; the missing direction, label and probabilities follow the
// documented rules from the node's own counts.
func TestNodeAgreesWithModel(t *testing.T) {
	for _, rm := range referenceModels(t) {
		t.Run(rm.name, func(t *testing.T) {
			m := loadModel(t, rm.name)
			nodes := nodeTable(t, m)
			root, _ := referenceTree(t, rm)
			next := 0
			leaves, maxDepth := 0, 0
			var visit func(j *jsonNode, depth int) int
			visit = func(j *jsonNode, depth int) int {
				i := next
				next++
				if i >= len(nodes) {
					t.Fatalf("the reference tree has more than NNodes %d nodes", len(nodes))
				}
				n := nodes[i]
				if n.NSamples != j.NSamples {
					t.Errorf("node %d: n_samples %v, reference %v", i, n.NSamples, j.NSamples)
				}
				if n.ClassCounts[0] < 0 || n.ClassCounts[1] < 0 {
					t.Errorf("node %d: negative class counts %v", i, n.ClassCounts)
				}
				wantLabel := int32(0)
				if n.ClassCounts[1] > n.ClassCounts[0] {
					wantLabel = 1
				}
				if n.Label != wantLabel {
					t.Errorf("node %d: label %d, counts %v", i, n.Label, n.ClassCounts)
				}
				if s := n.ClassCounts[0] + n.ClassCounts[1]; s > 0 {
					if math.Abs(n.Probabilities[1]-n.ClassCounts[1]/s) > 1e-15 ||
						math.Abs(n.Probabilities[0]+n.Probabilities[1]-1) > 1e-15 {
						t.Errorf("node %d: probabilities %v, counts %v", i, n.Probabilities, n.ClassCounts)
					}
				}
				if j.Type == "leaf" {
					leaves++
					maxDepth = max(maxDepth, depth)
					if !n.IsLeaf || n.Feature != -1 || n.Left != -1 || n.Right != -1 || n.MissingRight {
						t.Errorf("node %d: reference leaf, Node says %+v", i, n)
					}
					return i
				}
				if n.IsLeaf || j.FeatureIdx == nil || n.Feature != *j.FeatureIdx {
					t.Fatalf("node %d: reference split on %v, Node says %+v", i, j.FeatureIdx, n)
				}
				l := visit(j.Left, depth+1)
				r := visit(j.Right, depth+1)
				if n.Left != l || n.Right != r || l != i+1 {
					t.Errorf("node %d: children %d, %d; pre-order says %d, %d", i, n.Left, n.Right, l, r)
				}
				// Missing goes to the child with more training samples, left on a tie.
				if want := nodes[r].NSamples > nodes[l].NSamples; n.MissingRight != want {
					t.Errorf("node %d: MissingRight %v, children's n_samples %v / %v", i, n.MissingRight,
						nodes[l].NSamples, nodes[r].NSamples)
				}
				return i
			}
			visit(root, 0)
			if next != len(nodes) {
				t.Fatalf("the reference tree has %d nodes, NNodes %d", next, len(nodes))
			}
			if leaves != m.NLeaves() || maxDepth != m.MaxDepth() {
				t.Errorf("leaves %d depth %d, model says %d / %d", leaves, maxDepth, m.NLeaves(), m.MaxDepth())
			}
		})
	}
}

// TestExplainParity: on every golden row of every model (clean and missing input, int8 and
// float64), the leaf is leaf_preorder, the path is the walk of the row and ends at that
// leaf, the leaf node's label and probabilities are the prediction, and the contributions
// are the path's probability changes, zero off the path, adding up to P(class 1).
func TestExplainParity(t *testing.T) {
	for _, rm := range referenceModels(t) {
		t.Run(rm.name, func(t *testing.T) {
			m := loadModel(t, rm.name)
			nodes := nodeTable(t, m)
			for _, missing := range []bool{false, true} {
				t.Run(inputSuffix(missing), func(t *testing.T) {
					checkExplain(t, m, nodes, readDataset(t, rm.dataset, missing), readGolden(t, rm.name, missing))
				})
			}
		})
	}
}

func checkExplain(t *testing.T, m *Model, nodes []Node, data *dataset, golden []goldenRow) {
	n, nf, w := data.nRows, data.nCols, m.ContribWidth()
	if w != nf+1 {
		t.Fatalf("ContribWidth %d, want %d", w, nf+1)
	}
	leaf8, err := m.PredictLeaf(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	leaf64, err := m.PredictLeafF64(data.f64, n)
	if err != nil {
		t.Fatal(err)
	}
	contrib8, err := m.PredictContrib(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	contrib64, err := m.PredictContribF64(data.f64, n)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := m.Predict(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	proba, err := m.PredictProba(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	// The Into forms in uneven chunks with dirty buffers: row offsets and independence.
	const chunk = 29
	lc := make([]int32, chunk)
	cc := make([]float64, chunk*w)
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		k := to - from
		if err := m.PredictLeafInto(data.rowsI8(from, to), k, lc); err != nil {
			t.Fatal(err)
		}
		if !slicesEqual(lc[:k], leaf8[from:to]) {
			t.Fatalf("rows %d..%d: chunked leaves differ from the batch", from, to)
		}
		if err := m.PredictContribF64Into(data.rowsF64(from, to), k, cc); err != nil {
			t.Fatal(err)
		}
		for i := range cc[:k*w] {
			if math.Float64bits(cc[i]) != math.Float64bits(contrib8[from*w+i]) {
				t.Fatalf("rows %d..%d: chunked contributions differ from the batch", from, to)
			}
		}
	}

	bad := 0
	fail := func(g goldenRow, format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf("row %d: "+format, append([]any{g.row}, args...)...)
		}
		if bad == 50 {
			t.FailNow()
		}
	}
	path := make([]int32, m.MaxDepth()+1)
	want := make([]float64, nf)
	for r, g := range golden {
		row8, row64 := data.rowsI8(r, r+1), data.rowsF64(r, r+1)
		if leaf8[r] != g.leaf || leaf64[r] != g.leaf {
			fail(g, "leaf %d (int8) / %d (float64), golden leaf_preorder %d", leaf8[r], leaf64[r], g.leaf)
			continue
		}
		leaf := nodes[g.leaf]
		if !leaf.IsLeaf || leaf.Label != labels[r] ||
			math.Float64bits(leaf.Probabilities[1]) != math.Float64bits(proba[2*r+1]) {
			fail(g, "leaf node %+v, prediction %d %v", leaf, labels[r], proba[2*r:2*r+2])
		}

		// Path: the library's, both input types, equals the walk and ends at the leaf.
		k, err := m.DecisionPathInto(row8, path)
		if err != nil {
			t.Fatal(err)
		}
		walked := walk(nodes, row8)
		if !slicesEqual(path[:k], walked) || path[k-1] != g.leaf {
			fail(g, "path %v, walk %v, leaf %d", path[:k], walked, g.leaf)
		}
		p64, err := m.DecisionPathF64(row64)
		if err != nil {
			t.Fatal(err)
		}
		if !slicesEqual(p64, walked) {
			fail(g, "float64 path %v, walk %v", p64, walked)
		}

		// Contributions: exactly the path's changes (in path order), zero elsewhere.
		clear(want)
		for j := 0; j+1 < len(walked); j++ {
			parent, child := nodes[walked[j]], nodes[walked[j+1]]
			want[parent.Feature] += child.Probabilities[1] - parent.Probabilities[1]
		}
		c8, c64 := contrib8[r*w:(r+1)*w], contrib64[r*w:(r+1)*w]
		sum := 0.0
		for f := 0; f < nf; f++ {
			if math.Abs(c8[f]-want[f]) > 1e-15 || math.Float64bits(c8[f]) != math.Float64bits(c64[f]) {
				fail(g, "feature %d: contribution %v (float64 input %v), path says %v", f, c8[f], c64[f], want[f])
			}
			sum += c8[f]
		}
		if c8[nf] != nodes[0].Probabilities[1] || c64[nf] != c8[nf] {
			fail(g, "bias %v / %v, root P1 %v", c8[nf], c64[nf], nodes[0].Probabilities[1])
		}
		sum += c8[nf]
		if math.Abs(sum-proba[2*r+1]) > 1e-12 {
			fail(g, "contributions add up to %v, P1 %v", sum, proba[2*r+1])
		}
		if g.hasProba && math.Abs(sum-g.p1) > 1e-12 {
			fail(g, "contributions add up to %v, golden p1 %v", sum, g.p1)
		}
	}
	if bad > 0 {
		t.Fatalf("%d mismatches", bad)
	}
}

// TestExplainErrors: hostile arguments fail with the library's specific error and leave the
// outputs alone; the binding adds no check of its own beyond len(x).
func TestExplainErrors(t *testing.T) {
	m := loadModel(t, errModel)
	nf, w := m.NFeatures(), m.ContribWidth()
	x := make([]int8, 3*nf)
	x64 := make([]float64, 3*nf)

	t.Run("short output", func(t *testing.T) {
		l := fill(make([]int32, 2), 7)
		asError(t, m.PredictLeafInto(x, 3, l), ErrLength)
		asError(t, m.PredictLeafF64Into(x64, 3, l), ErrLength)
		if !allEqual(l, 7) {
			t.Error("a failed call wrote leaves")
		}
		c := fill(make([]float64, 3*w-1), 7)
		asError(t, m.PredictContribInto(x, 3, c), ErrLength)
		asError(t, m.PredictContribF64Into(x64, 3, c), ErrLength)
		if !allEqual(c, 7) {
			t.Error("a failed call wrote contributions")
		}
		asError(t, m.PredictLeafInto(x, 3, nil), ErrLength)
		asError(t, m.PredictContribInto(x, 3, nil), ErrLength)
	})
	t.Run("wrong input length", func(t *testing.T) {
		for _, nx := range []int{0, 3*nf - 1, 3*nf + 1} {
			asError(t, m.PredictLeafInto(make([]int8, nx), 3, make([]int32, 3)), ErrShape)
			asError(t, m.PredictContribF64Into(make([]float64, nx), 3, make([]float64, 3*w)), ErrShape)
			_, err := m.PredictLeaf(make([]int8, nx), 3)
			asError(t, err, ErrShape)
			_, err = m.PredictContrib(make([]int8, nx), 3)
			asError(t, err, ErrShape)
		}
		for _, nRows := range []int{-1, math.MinInt, math.MaxInt} {
			asError(t, m.PredictLeafInto(x, nRows, make([]int32, 3)), ErrShape)
			_, err := m.PredictContribF64(x64, nRows)
			asError(t, err, ErrShape)
		}
		for _, n := range []int{0, nf - 1, nf + 1} {
			_, err := m.DecisionPath(make([]int8, n))
			asError(t, err, ErrShape)
			_, err = m.DecisionPathF64Into(make([]float64, n), make([]int32, 64))
			asError(t, err, ErrShape)
		}
	})
	t.Run("zero rows", func(t *testing.T) {
		if err := m.PredictLeafInto(nil, 0, nil); err != nil {
			t.Error(err)
		}
		if c, err := m.PredictContrib(nil, 0); err != nil || len(c) != 0 {
			t.Errorf("%v, %v", c, err)
		}
	})
	t.Run("path length protocol", func(t *testing.T) {
		data := readDataset(t, refModelByName(t, errModel).dataset, true)
		for r := 0; r < 50; r++ {
			row := data.rowsI8(r, r+1)
			full, err := m.DecisionPath(row)
			if err != nil {
				t.Fatal(err)
			}
			need, err := m.DecisionPathInto(row, nil) // "how long?"
			asError(t, err, ErrLength)
			if need != len(full) {
				t.Fatalf("row %d: needed length %d, path %v", r, need, full)
			}
			short := fill(make([]int32, len(full)-1), 7)
			need, err = m.DecisionPathInto(row, short)
			e := asError(t, err, ErrLength)
			if need != len(full) || !strings.Contains(e.Message, strconv.Itoa(len(full))) {
				t.Fatalf("row %d: short buffer: %d, %v; path %v", r, need, err, full)
			}
			exact := make([]int32, len(full))
			if n, err := m.DecisionPathInto(row, exact); err != nil || n != len(full) || !slicesEqual(exact, full) {
				t.Fatalf("row %d: exact buffer: %d %v %v", r, n, exact, err)
			}
		}
	})
	t.Run("bad node", func(t *testing.T) {
		for _, i := range []int{-1, math.MinInt, m.NNodes(), m.NNodes() + 1, math.MaxInt} {
			n, err := m.Node(i)
			e := asError(t, err, ErrNotFound)
			if !strings.Contains(e.Message, strconv.Itoa(i)) || !strings.Contains(e.Message, strconv.Itoa(m.NNodes())) {
				t.Errorf("Node(%d): message %q does not name the node and n_nodes", i, e.Message)
			}
			if n != (Node{}) {
				t.Errorf("Node(%d) returned %+v with its error", i, n)
			}
		}
	})
	t.Run("bad value", func(t *testing.T) {
		root, err := m.Node(0)
		if err != nil || root.IsLeaf {
			t.Fatalf("root %+v, %v", root, err)
		}
		col := root.Feature
		for _, badRow := range []int{0, 2} {
			for _, v := range []int8{2, -2, math.MaxInt8, math.MinInt8} {
				xb := make([]int8, 3*nf)
				xb[badRow*nf+col] = v
				_, err := m.PredictLeaf(xb, 3)
				checkValueError(t, err, badRow, col)
				_, err = m.PredictContrib(xb, 3)
				checkValueError(t, err, badRow, col)
				_, err = m.DecisionPath(xb[badRow*nf : (badRow+1)*nf])
				checkValueError(t, err, 0, col)
			}
			for _, v := range []float64{2, -1, 0.5, math.Inf(1), math.SmallestNonzeroFloat64} {
				xb := make([]float64, 3*nf)
				xb[badRow*nf+col] = v
				_, err := m.PredictLeafF64(xb, 3)
				checkValueError(t, err, badRow, col)
				_, err = m.PredictContribF64(xb, 3)
				checkValueError(t, err, badRow, col)
				_, err = m.DecisionPathF64(xb[badRow*nf : (badRow+1)*nf])
				checkValueError(t, err, 0, col)
			}
		}
	})
	t.Run("closed", func(t *testing.T) {
		c := loadModel(t, errModel)
		c.Close()
		asError(t, c.PredictLeafInto(x, 3, make([]int32, 3)), ErrClosed)
		asError(t, c.PredictLeafF64Into(x64, 3, make([]int32, 3)), ErrClosed)
		asError(t, c.PredictContribInto(x, 3, make([]float64, 3*w)), ErrClosed)
		asError(t, c.PredictContribF64Into(x64, 3, make([]float64, 3*w)), ErrClosed)
		_, err := c.DecisionPath(x[:nf])
		asError(t, err, ErrClosed)
		_, err = c.DecisionPathF64Into(x64[:nf], make([]int32, 8))
		asError(t, err, ErrClosed)
		_, err = c.Node(0)
		asError(t, err, ErrClosed)
	})
}

// TestExplainConcurrent: goroutines share one model and mix every explanation call with
// predictions; each result equals the serial one (run with -race).
func TestExplainConcurrent(t *testing.T) {
	m := loadModel(t, "du_entropy_d14_lgk12")
	data := readDataset(t, refModelByName(t, "du_entropy_d14_lgk12").dataset, true)
	n, w := data.nRows, m.ContribWidth()
	leaves, err := m.PredictLeaf(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	contrib, err := m.PredictContrib(data.i8, n)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, iters = 16, 300
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			l := make([]int32, 64)
			c := make([]float64, 64*w)
			p := make([]int32, m.MaxDepth()+1)
			for it := 0; it < iters; it++ {
				k := 1 + rng.IntN(64)
				from := rng.IntN(n - k + 1)
				switch rng.IntN(4) {
				case 0:
					if err := m.PredictLeafF64Into(data.rowsF64(from, from+k), k, l); err != nil || !slicesEqual(l[:k], leaves[from:from+k]) {
						errs <- "PredictLeafF64Into differs"
						return
					}
				case 1:
					if err := m.PredictContribInto(data.rowsI8(from, from+k), k, c); err != nil {
						errs <- err.Error()
						return
					}
					for i, v := range c[:k*w] {
						if math.Float64bits(v) != math.Float64bits(contrib[from*w+i]) {
							errs <- "PredictContribInto differs"
							return
						}
					}
				case 2:
					np, err := m.DecisionPathInto(data.rowsI8(from, from+1), p)
					if err != nil || p[np-1] != leaves[from] {
						errs <- "DecisionPathInto does not end at the leaf"
						return
					}
				default:
					nd, err := m.Node(int(leaves[from]))
					if err != nil || !nd.IsLeaf {
						errs <- "Node of a leaf is not a leaf"
						return
					}
				}
			}
		}(uint64(g))
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestExplainIntoDoesNotAllocate: the Into forms and Node allocate nothing.
func TestExplainIntoDoesNotAllocate(t *testing.T) {
	m := loadModel(t, errModel)
	data := readDataset(t, refModelByName(t, errModel).dataset, true)
	w := m.ContribWidth()
	path := make([]int32, m.MaxDepth()+1)
	for _, rows := range []int{1, 1024} {
		x8, x64 := data.rowsI8(0, rows), data.rowsF64(0, rows)
		l := make([]int32, rows)
		c := make([]float64, rows*w)
		for name, f := range map[string]func() error{
			"PredictLeafInto":       func() error { return m.PredictLeafInto(x8, rows, l) },
			"PredictLeafF64Into":    func() error { return m.PredictLeafF64Into(x64, rows, l) },
			"PredictContribInto":    func() error { return m.PredictContribInto(x8, rows, c) },
			"PredictContribF64Into": func() error { return m.PredictContribF64Into(x64, rows, c) },
			"DecisionPathInto": func() error {
				_, err := m.DecisionPathInto(x8[:m.NFeatures()], path)
				return err
			},
			"DecisionPathF64Into": func() error {
				_, err := m.DecisionPathF64Into(x64[:m.NFeatures()], path)
				return err
			},
			"Node": func() error {
				_, err := m.Node(rows % m.NNodes())
				return err
			},
		} {
			var err error
			allocs := testing.AllocsPerRun(200, func() {
				if e := f(); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if allocs != 0 {
				t.Errorf("%s, %d rows: %v allocations per call, want 0", name, rows, allocs)
			}
		}
	}
}
