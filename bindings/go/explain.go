package thetatree

/*
// Same promise as in thetatree.go: the library keeps no pointer and never calls back, so the
// tt_error, out_len and tt_node out-parameters stay on the goroutine stack.
#cgo noescape tt_predict_leaf
#cgo noescape tt_predict_leaf_f64
#cgo noescape tt_predict_contrib
#cgo noescape tt_predict_contrib_f64
#cgo noescape tt_decision_path
#cgo noescape tt_decision_path_f64
#cgo noescape tt_node_info
#cgo nocallback tt_predict_leaf
#cgo nocallback tt_predict_leaf_f64
#cgo nocallback tt_predict_contrib
#cgo nocallback tt_predict_contrib_f64
#cgo nocallback tt_decision_path
#cgo nocallback tt_decision_path_f64
#cgo nocallback tt_node_info

#include "thetatree.h"
*/
import "C"

import (
	"runtime"
)

// Explanations: which leaf a row reaches, the nodes on its way there, and how much each
// feature tested on that way moved P(class 1). Node indices are the model's node numbering,
// the reference's pre-order (root 0, then the left subtree, then the right one): the golden
// files' leaf_preorder. Node(i) reads any node.
//
// The shape and value rules, and the errors, are predict's: the library checks everything
// (this binding only checks what C cannot see, that x holds nRows rows).

// checkRows is the part of checkShape C cannot do: it does not know len(x). The output
// buffer's length is passed to C, which checks it (ErrLength) like every other argument.
func (m *Model) checkRows(nx, nRows int) *Error {
	return m.checkShape(nx, nRows, maxInt, 1)
}

// PredictLeafInto writes the node index of the leaf each of the nRows rows of x reaches
// (int8 input: 0 absent, 1 present, -1 missing) to out[:nRows]. It does not allocate on
// success.
func (m *Model) PredictLeafInto(x []int8, nRows int, out []int32) error {
	if err := m.checkRows(len(x), nRows); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict_leaf(m.ptr, i8ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), i32ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// PredictLeaf returns the leaf node index of each of the nRows rows of x (int8 input).
func (m *Model) PredictLeaf(x []int8, nRows int) ([]int32, error) {
	if err := m.checkRows(len(x), nRows); err != nil {
		return nil, err
	}
	out := make([]int32, nRows)
	if err := m.PredictLeafInto(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PredictLeafF64Into is PredictLeafInto for float64 input: 0 (or -0) absent, 1 present, NaN
// missing.
func (m *Model) PredictLeafF64Into(x []float64, nRows int, out []int32) error {
	if err := m.checkRows(len(x), nRows); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict_leaf_f64(m.ptr, f64ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), i32ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// PredictLeafF64 returns the leaf node index of each of the nRows rows of x (float64 input).
func (m *Model) PredictLeafF64(x []float64, nRows int) ([]int32, error) {
	if err := m.checkRows(len(x), nRows); err != nil {
		return nil, err
	}
	out := make([]int32, nRows)
	if err := m.PredictLeafF64Into(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ContribWidth is the number of values PredictContrib writes per row: NFeatures()+1.
func (m *Model) ContribWidth() int { return m.nFeatures + 1 }

// PredictContribInto writes, for each of the nRows rows of x (int8 input), ContribWidth()
// values to out, row-major (LightGBM's pred_contrib layout): out[r*w+f] is the change in
// P(class 1) at the splits on feature f along row r's path (P(child) - P(node); 0 for a
// feature the path does not test), and out[r*w+NFeatures()] is P(class 1) at the root (the
// bias). A row's values add up to its P(class 1). It does not allocate on success.
func (m *Model) PredictContribInto(x []int8, nRows int, out []float64) error {
	if err := m.checkRows(len(x), nRows); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict_contrib(m.ptr, i8ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), f64ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// PredictContrib returns nRows*ContribWidth() contributions, row-major (int8 input).
func (m *Model) PredictContrib(x []int8, nRows int) ([]float64, error) {
	if err := m.checkShape(len(x), nRows, maxInt, m.ContribWidth()); err != nil {
		return nil, err
	}
	out := make([]float64, nRows*m.ContribWidth())
	if err := m.PredictContribInto(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PredictContribF64Into is PredictContribInto for float64 input (0, 1, NaN missing).
func (m *Model) PredictContribF64Into(x []float64, nRows int, out []float64) error {
	if err := m.checkRows(len(x), nRows); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict_contrib_f64(m.ptr, f64ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), f64ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// PredictContribF64 returns nRows*ContribWidth() contributions, row-major (float64 input).
func (m *Model) PredictContribF64(x []float64, nRows int) ([]float64, error) {
	if err := m.checkShape(len(x), nRows, maxInt, m.ContribWidth()); err != nil {
		return nil, err
	}
	out := make([]float64, nRows*m.ContribWidth())
	if err := m.PredictContribF64Into(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// pathOut is the out_nodes argument of tt_decision_path: NULL for an empty buffer (the
// "how long is the path" call the C ABI allows with cap 0).
func pathOut(out []int32) *C.int32_t {
	if len(out) == 0 {
		return nil
	}
	return i32ptr(out)
}

// DecisionPathInto writes the node indices from the root to the leaf that the single row
// (NFeatures() int8 values) reaches into out and returns how many it wrote: out[0] is 0 (the
// root), out[n-1] the leaf. When out is too short it writes nothing useful and returns the
// length needed with an ErrLength error (an empty out asks for the length only); MaxDepth()+1
// is always enough. It does not allocate on success.
func (m *Model) DecisionPathInto(row []int8, out []int32) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return 0, closedError()
	}
	var (
		cerr C.tt_error
		n    C.size_t
	)
	rc := C.tt_decision_path(m.ptr, i8ptr(row), C.size_t(len(row)), pathOut(out), C.size_t(len(out)), &n, &cerr)
	runtime.KeepAlive(row)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	return pathResult(rc, n, &cerr)
}

// DecisionPath returns the node indices from the root to the leaf for one row (int8 input).
func (m *Model) DecisionPath(row []int8) ([]int32, error) {
	return m.allocPath(func(out []int32) (int, error) { return m.DecisionPathInto(row, out) })
}

// DecisionPathF64Into is DecisionPathInto for one float64 row (0, 1, NaN missing).
func (m *Model) DecisionPathF64Into(row []float64, out []int32) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return 0, closedError()
	}
	var (
		cerr C.tt_error
		n    C.size_t
	)
	rc := C.tt_decision_path_f64(m.ptr, f64ptr(row), C.size_t(len(row)), pathOut(out), C.size_t(len(out)), &n, &cerr)
	runtime.KeepAlive(row)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	return pathResult(rc, n, &cerr)
}

// DecisionPathF64 returns the node indices from the root to the leaf for one float64 row.
func (m *Model) DecisionPathF64(row []float64) ([]int32, error) {
	return m.allocPath(func(out []int32) (int, error) { return m.DecisionPathF64Into(row, out) })
}

// pathResult turns a tt_decision_path answer into DecisionPathInto's: the length written, or
// the length needed with the ErrLength error when the buffer was short.
func pathResult(rc C.int32_t, n C.size_t, cerr *C.tt_error) (int, error) {
	switch rc {
	case C.TT_OK:
		return int(n), nil
	case C.TT_ERR_LENGTH:
		return int(n), fromC(rc, cerr)
	default:
		return 0, fromC(rc, cerr)
	}
}

// allocPath runs a DecisionPath*Into call on a buffer of MaxDepth()+1 nodes (a path's most),
// and once more on the length the library asks for should that ever be short.
func (m *Model) allocPath(into func(out []int32) (int, error)) ([]int32, error) {
	out := make([]int32, m.maxDepth+1)
	n, err := into(out)
	if n > len(out) { // cannot happen for a valid model; the library's answer wins
		out = make([]int32, n)
		n, err = into(out)
	}
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// Node is one node of the tree, as tt_node_info reads it.
type Node struct {
	Index  int  // the node's index (the argument of Node)
	IsLeaf bool // a leaf, or a split
	// Feature is the split's feature index (input column); -1 for a leaf.
	Feature int
	// Left is the child a row with the feature absent (0) goes to, Right the one for present
	// (1); both -1 for a leaf.
	Left, Right int
	// MissingRight: a missing value goes to Right (else Left); false for a leaf.
	MissingRight bool
	// Label is the node's majority class (0 on a tie), what Predict answers at a leaf.
	Label int32
	// NSamples is the node's training sample count.
	NSamples float64
	// ClassCounts are the training counts of class 0 and class 1 at the node.
	ClassCounts [2]float64
	// Probabilities are P(class 0) and P(class 1) from ClassCounts, computed exactly as the
	// leaves' (what PredictProba answers at a leaf).
	Probabilities [2]float64
}

// Node returns node i (0 <= i < NNodes(); 0 is the root). An index out of range fails with
// ErrNotFound. It does not allocate on success.
func (m *Model) Node(i int) (Node, error) {
	if i < 0 {
		// size_t cannot carry a negative index to C: say so here, in its words.
		return Node{}, newError(ErrNotFound, "node %d is out of range (n_nodes = %d)", i, m.nNodes)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return Node{}, closedError()
	}
	var (
		cerr C.tt_error
		n    C.tt_node
	)
	rc := C.tt_node_info(m.ptr, C.size_t(i), &n, &cerr)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return Node{}, fromC(rc, &cerr)
	}
	return Node{
		Index:         i,
		IsLeaf:        n.is_leaf != 0,
		Feature:       int(n.feature),
		Left:          int(n.left),
		Right:         int(n.right),
		MissingRight:  n.missing_right != 0,
		Label:         int32(n.label),
		NSamples:      float64(n.n_samples),
		ClassCounts:   [2]float64{float64(n.class_counts[0]), float64(n.class_counts[1])},
		Probabilities: [2]float64{float64(n.probabilities[0]), float64(n.probabilities[1])},
	}, nil
}
