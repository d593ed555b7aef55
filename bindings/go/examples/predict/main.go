// Command predict loads a .ttm model and prints a prediction for every row of a CSV file.
//
//	predict [-id COLUMN] [-copy] [-key-file FILE] [-batch N] MODEL.ttm [INPUT.csv]
//
// The CSV's header names the columns. Columns named like a model feature are used (in any
// order); other columns are ignored, except the -id column, which is echoed. Every model
// feature must be present. Cells are 0, 1, or empty for a missing value. With no INPUT (or
// "-") the CSV is read from standard input. Output: CSV with header [id,]pred,label,p0,p1,
// probabilities in shortest round-trip form.
//
// Build the Rust library first and point pkg-config at it (in the repository root:
// cargo build --release && export PKG_CONFIG_PATH=$(bindings/c/dev-prefix.sh); outside it, an
// installed prefix, see the README), then:
//
//	gzip -dc ../../tests/data/reference/inputs/mushroom_X_missing.csv.gz |
//	    go run ./examples/predict -id row ../../target/reference-models/mushroom_gini_d5_lgk12.ttm
package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "predict:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	idCol := fs.String("id", "", "echo this input column as the first output column")
	copyFile := fs.Bool("copy", false, "read the model into memory instead of memory-mapping it")
	keyFile := fs.String("key-file", "", "require a valid signature made with the key in this file")
	batch := fs.Int("batch", 1024, "rows per library call")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: predict [-id COLUMN] [-copy] [-key-file FILE] [-batch N] MODEL.ttm [INPUT.csv]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || *batch < 1 {
		fs.Usage()
		return errors.New("bad arguments")
	}

	var opts []thetatree.Option
	if *copyFile {
		opts = append(opts, thetatree.WithCopy())
	}
	if *keyFile != "" {
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		opts = append(opts, thetatree.WithKey([]byte(strings.TrimRight(string(key), "\r\n"))))
	}
	model, err := thetatree.Load(fs.Arg(0), opts...)
	if err != nil {
		return err
	}
	defer model.Close()

	in := stdin
	if fs.NArg() == 2 && fs.Arg(1) != "-" {
		f, err := os.Open(fs.Arg(1))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	r := csv.NewReader(bufio.NewReaderSize(in, 1<<16))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("reading the CSV header: %w", err)
	}
	header = append([]string(nil), header...)

	// Map CSV columns to model columns by name.
	nf := model.NFeatures()
	colOf := make([]int, nf) // model feature -> CSV column
	for i := range colOf {
		colOf[i] = -1
	}
	idIdx := -1
	for c, name := range header {
		if name == *idCol && *idCol != "" {
			idIdx = c
		}
		idx, err := model.FeatureIndex(name)
		if errors.Is(err, thetatree.ErrNotFound) {
			continue // not a feature
		} else if err != nil {
			return err
		}
		if colOf[idx] >= 0 {
			return fmt.Errorf("feature %q appears twice in the header", name)
		}
		colOf[idx] = c
	}
	if *idCol != "" && idIdx < 0 {
		return fmt.Errorf("no column %q in the header", *idCol)
	}
	var absent []string
	for i, c := range colOf {
		if c < 0 {
			name, _ := model.FeatureName(i)
			absent = append(absent, name)
		}
	}
	if len(absent) > 0 {
		return fmt.Errorf("%d model features are not in the CSV header, e.g. %q", len(absent), absent[0])
	}

	bw := bufio.NewWriterSize(stdout, 1<<16)
	w := csv.NewWriter(bw)
	outRec := []string{"pred", "label", "p0", "p1"}
	if idIdx >= 0 {
		outRec = append([]string{header[idIdx]}, outRec...)
	}
	if err := w.Write(outRec); err != nil {
		return err
	}

	labels := model.ClassLabels()
	x := make([]float64, 0, *batch*nf)
	ids := make([]string, 0, *batch)
	pred := make([]int32, *batch)
	proba := make([]float64, 2**batch)
	line := 1      // CSV line last read (1: the header)
	firstLine := 2 // CSV line of the batch's first row
	flush := func() error {
		n := len(x) / nf
		if n == 0 {
			return nil
		}
		err := model.PredictF64Into(x, n, pred)
		if err == nil {
			err = model.PredictProbaF64Into(x, n, proba)
		}
		var te *thetatree.Error
		if errors.As(err, &te) && te.Code == thetatree.ErrInputValue {
			return fmt.Errorf("line %d, column %q: %v", firstLine+int(te.Row), header[colOf[te.Column]], err)
		} else if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			outRec = outRec[:0]
			if idIdx >= 0 {
				outRec = append(outRec, ids[i])
			}
			outRec = append(outRec, strconv.Itoa(int(pred[i])), labels[pred[i]],
				strconv.FormatFloat(proba[2*i], 'g', -1, 64), strconv.FormatFloat(proba[2*i+1], 'g', -1, 64))
			if err := w.Write(outRec); err != nil {
				return err
			}
		}
		x, ids = x[:0], ids[:0]
		firstLine = line + 1
		return nil
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		line++
		for _, c := range colOf {
			switch cell := strings.TrimSpace(rec[c]); cell {
			case "":
				x = append(x, math.NaN())
			default:
				v, err := strconv.ParseFloat(cell, 64)
				if err != nil {
					return fmt.Errorf("line %d, column %q: %q is not a number", line, header[c], cell)
				}
				x = append(x, v) // the library rejects anything but 0 and 1 where it reads it
			}
		}
		if idIdx >= 0 {
			ids = append(ids, rec[idIdx])
		}
		if len(x) == cap(x) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
