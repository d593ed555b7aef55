package thetatree_test

import (
	"errors"
	"fmt"
	"log"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// The README quickstart (compiled by go test, not run: it needs a model file).
func Example() {
	m, err := thetatree.Load("model.ttm") // or Load(p, thetatree.WithCopy()), WithKey(key)
	if err != nil {
		log.Fatal(err) // e.g. thetatree: TT_ERR_CHECKSUM: checksum mismatch: ... (at byte offset 32)
	}
	defer m.Close()

	// Two rows, row-major, m.NFeatures() int8 values each: 0 absent, 1 present, -1 missing.
	nf := m.NFeatures()
	x := make([]int8, 2*nf)
	x[nf+3] = 1  // row 1 has feature 3
	x[nf+7] = -1 // row 1 does not know feature 7
	if i, err := m.FeatureIndex("odor=n"); err == nil {
		x[i] = 1 // row 0 has the feature called "odor=n"
	}

	labels, err := m.Predict(x, 2) // []int32{...}: class 0 or 1
	if err != nil {
		log.Fatal(err)
	}
	proba, err := m.PredictProba(x, 2) // [p0(row0), p1(row0), p0(row1), p1(row1)]
	var te *thetatree.Error
	if errors.As(err, &te) && te.Code == thetatree.ErrInputValue {
		log.Fatalf("bad value at row %d, column %d", te.Row, te.Column)
	}
	fmt.Println(labels, proba, m.ClassLabels()[labels[0]], m.Version(), m.DigestHex())
}

// Errors are sentinels for errors.Is, and *Error values for errors.As.
func ExampleError() {
	_, err := thetatree.LoadBytes([]byte("not a model"))
	fmt.Println(errors.Is(err, thetatree.ErrBadMagic))
	var te *thetatree.Error
	if errors.As(err, &te) {
		fmt.Println(te.Code.String(), te.Row, te.Column)
	}
	// Output:
	// true
	// TT_ERR_BAD_MAGIC -1 -1
}

// Explaining one prediction: the leaf, the rules on the way there, and the features that
// moved P(class 1) the most (compiled by go test, not run: it needs a model file).
func ExampleModel_DecisionPath() {
	m, err := thetatree.Load("model.ttm")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	row := make([]int8, m.NFeatures()) // one row: 0 absent, 1 present, -1 missing
	row[0] = 1

	path, err := m.DecisionPath(row) // node indices, root (0) first, leaf last
	if err != nil {
		log.Fatal(err)
	}
	names := m.FeatureNames()
	for i, id := range path[:len(path)-1] {
		n, _ := m.Node(int(id))
		side := "absent"
		if int(path[i+1]) == n.Right {
			side = "present"
		}
		fmt.Printf("%s %s\n", names[n.Feature], side)
	}
	leaf, _ := m.Node(int(path[len(path)-1]))
	fmt.Printf("leaf %d: class %s, P(class 1) = %v, n = %v\n", leaf.Index, m.ClassLabels()[leaf.Label],
		leaf.Probabilities[1], leaf.NSamples)

	// Per-feature changes of P(class 1) along that path, then the root's P(class 1): the
	// values add up to the row's P(class 1).
	contrib, err := m.PredictContrib(row, 1)
	if err != nil {
		log.Fatal(err)
	}
	for f, v := range contrib[:m.NFeatures()] {
		if v != 0 {
			fmt.Printf("%s %+.3f\n", names[f], v)
		}
	}
	fmt.Printf("bias %.3f\n", contrib[m.NFeatures()])
}
