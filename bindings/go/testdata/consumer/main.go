// Command consumer is the program bindings/go/test-installed.sh builds in a module outside the
// repository, against a copy of this binding and a thetatree installed with cmake --install:
//
//	consumer MODEL.ttm ROWS.csv
//
// ROWS.csv has a header naming model features (other columns, such as a row id in the first
// column, are ignored; cells 0, 1, or empty for missing). Prints `row,pred,p0,p1` per row, the
// probabilities in shortest round-trip form, and how the library was linked on stderr.
package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 3 {
		return errors.New("usage: consumer MODEL.ttm ROWS.csv")
	}
	m, err := thetatree.Load(os.Args[1])
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(os.Stderr, "thetatree %s, ABI %d, linked %s\n",
		thetatree.LibraryVersion(), thetatree.LibraryABIVersion(), thetatree.Linkage)

	f, err := os.Open(os.Args[2])
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return err
	}
	if len(recs) < 2 {
		return errors.New("no rows")
	}
	nf, rows := m.NFeatures(), recs[1:]
	x := make([]int8, len(rows)*nf)
	for i := range x {
		x[i] = -1 // features without a column are missing
	}
	for c, name := range recs[0] {
		j, err := m.FeatureIndex(name)
		if errors.Is(err, thetatree.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		for r, rec := range rows {
			switch rec[c] {
			case "0", "1":
				x[r*nf+j] = int8(rec[c][0] - '0')
			case "":
			default:
				return fmt.Errorf("row %d, column %q: bad cell %q", r, name, rec[c])
			}
		}
	}
	labels, err := m.Predict(x, len(rows))
	if err != nil {
		return err
	}
	proba, err := m.PredictProba(x, len(rows))
	if err != nil {
		return err
	}
	fmt.Println("row,pred,p0,p1")
	for r := range rows {
		fmt.Printf("%s,%d,%s,%s\n", rows[r][0], labels[r],
			strconv.FormatFloat(proba[2*r], 'g', -1, 64), strconv.FormatFloat(proba[2*r+1], 'g', -1, 64))
	}
	return nil
}
