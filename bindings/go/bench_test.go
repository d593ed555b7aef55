package thetatree

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// Benchmarks on the depth-5 mushroom model (117 features) with the missing-value input.
// Single-row benchmarks cycle through the first 1024 rows so that every path is exercised.
//
//	go test -run xxx -bench . -benchmem
//
// BenchmarkOverhead compares the binding with a bare cgo call of the same C function
// (direct.go: no lock, no closed check, no shape checks), single row: the difference is what
// the binding adds per call.

const benchModel = "mushroom_gini_d5_lgk12"

type benchFixture struct {
	m    *Model
	data *dataset
	nf   int
}

func newBenchFixture(b *testing.B) benchFixture {
	b.Helper()
	m := loadModel(b, benchModel)
	data := readDataset(b, refModelByName(b, benchModel).dataset, true)
	if data.nRows < 1024 {
		b.Fatalf("need 1024 rows, have %d", data.nRows)
	}
	return benchFixture{m, data, m.NFeatures()}
}

var benchRows = []int{1, 1024}

// runRows runs f(i, rows) per iteration, where i cycles so that rows [i, i+rows) are valid.
func runRows(b *testing.B, rows int, f func(from int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	from := 0
	for i := 0; i < b.N; i++ {
		if err := f(from); err != nil {
			b.Fatal(err)
		}
		if rows == 1 {
			from = (from + 1) & 1023
		}
	}
	b.StopTimer()
	if rows > 1 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
	}
}

func BenchmarkPredictInto(b *testing.B) {
	fx := newBenchFixture(b)
	for _, rows := range benchRows {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			out := make([]int32, rows)
			runRows(b, rows, func(from int) error {
				return fx.m.PredictInto(fx.data.rowsI8(from, from+rows), rows, out)
			})
		})
	}
}

func BenchmarkPredictProbaInto(b *testing.B) {
	fx := newBenchFixture(b)
	for _, rows := range benchRows {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			out := make([]float64, 2*rows)
			runRows(b, rows, func(from int) error {
				return fx.m.PredictProbaInto(fx.data.rowsI8(from, from+rows), rows, out)
			})
		})
	}
}

func BenchmarkPredictProbaF64Into(b *testing.B) {
	fx := newBenchFixture(b)
	for _, rows := range benchRows {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			out := make([]float64, 2*rows)
			runRows(b, rows, func(from int) error {
				return fx.m.PredictProbaF64Into(fx.data.rowsF64(from, from+rows), rows, out)
			})
		})
	}
}

// BenchmarkPredictParallel: single-row PredictInto from GOMAXPROCS goroutines at once (the
// read lock is shared; this shows its cost under contention).
func BenchmarkPredictParallel(b *testing.B) {
	fx := newBenchFixture(b)
	// Output buffers made before the timer starts, so that allocs/op shows the calls only.
	outs := make([][]int32, 4*runtime.GOMAXPROCS(0))
	for i := range outs {
		outs[i] = make([]int32, 1)
	}
	var next atomic.Int32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		out := outs[int(next.Add(1)-1)%len(outs)]
		from := 0
		for pb.Next() {
			if err := fx.m.PredictInto(fx.data.rowsI8(from, from+1), 1, out); err != nil {
				b.Error(err)
				return
			}
			from = (from + 1) & 1023
		}
	})
}

func BenchmarkOverhead(b *testing.B) {
	fx := newBenchFixture(b)
	out := make([]int32, 1)
	proba := make([]float64, 2)
	rc := func(code int32) error {
		if code != 0 {
			return Code(code)
		}
		return nil
	}
	cases := []struct {
		name string
		f    func(from int) error
	}{
		{"predict/direct", func(from int) error {
			return rc(directPredict(fx.m, fx.data.rowsI8(from, from+1), 1, out))
		}},
		{"predict/binding", func(from int) error {
			return fx.m.PredictInto(fx.data.rowsI8(from, from+1), 1, out)
		}},
		{"proba/direct", func(from int) error {
			return rc(directPredictProba(fx.m, fx.data.rowsI8(from, from+1), 1, proba))
		}},
		{"proba/binding", func(from int) error {
			return fx.m.PredictProbaInto(fx.data.rowsI8(from, from+1), 1, proba)
		}},
		{"proba_f64/direct", func(from int) error {
			return rc(directPredictProbaF64(fx.m, fx.data.rowsF64(from, from+1), 1, proba))
		}},
		{"proba_f64/binding", func(from int) error {
			return fx.m.PredictProbaF64Into(fx.data.rowsF64(from, from+1), 1, proba)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { runRows(b, 1, c.f) })
	}
}

// BenchmarkExplainInto: the explanation calls next to PredictProbaInto on the same rows
// (1 and 1024 rows; DecisionPathInto is single-row by definition).
func BenchmarkExplainInto(b *testing.B) {
	fx := newBenchFixture(b)
	for _, rows := range benchRows {
		b.Run(fmt.Sprintf("proba/rows=%d", rows), func(b *testing.B) {
			out := make([]float64, 2*rows)
			runRows(b, rows, func(from int) error {
				return fx.m.PredictProbaInto(fx.data.rowsI8(from, from+rows), rows, out)
			})
		})
		b.Run(fmt.Sprintf("leaf/rows=%d", rows), func(b *testing.B) {
			out := make([]int32, rows)
			runRows(b, rows, func(from int) error {
				return fx.m.PredictLeafInto(fx.data.rowsI8(from, from+rows), rows, out)
			})
		})
		b.Run(fmt.Sprintf("contrib/rows=%d", rows), func(b *testing.B) {
			out := make([]float64, rows*fx.m.ContribWidth())
			runRows(b, rows, func(from int) error {
				return fx.m.PredictContribInto(fx.data.rowsI8(from, from+rows), rows, out)
			})
		})
	}
	b.Run("path/rows=1", func(b *testing.B) {
		out := make([]int32, fx.m.MaxDepth()+1)
		runRows(b, 1, func(from int) error {
			_, err := fx.m.DecisionPathInto(fx.data.rowsI8(from, from+1), out)
			return err
		})
	})
}
