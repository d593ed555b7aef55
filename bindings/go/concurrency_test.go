package thetatree

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// expected holds serial results for a whole dataset, to check concurrent calls against.
type expected struct {
	data   *dataset
	labels []int32
	proba  []float64
}

func serialResults(t *testing.T, m *Model, ds string) expected {
	t.Helper()
	data := readDataset(t, ds, true)
	labels, err := m.Predict(data.i8, data.nRows)
	if err != nil {
		t.Fatal(err)
	}
	proba, err := m.PredictProba(data.i8, data.nRows)
	if err != nil {
		t.Fatal(err)
	}
	// int8 and float64 input agree (parity with the golden files is TestParity's job).
	l64, err := m.PredictF64(data.f64, data.nRows)
	if err != nil || !slicesEqual(l64, labels) {
		t.Fatalf("float64 labels differ from int8 labels (%v)", err)
	}
	return expected{data, labels, proba}
}

// predictRandom runs one of the four Into calls on a random row range of e.data and checks
// the result. It returns the call's error if it failed (for the caller to judge).
func (e *expected) predictRandom(m *Model, rng *rand.Rand, l []int32, p []float64) (error, bool) {
	n := 1 + rng.IntN(len(l))
	from := rng.IntN(e.data.nRows - n + 1)
	to := from + n
	var err error
	switch kind := rng.IntN(4); kind {
	case 0, 1:
		if kind == 0 {
			err = m.PredictInto(e.data.rowsI8(from, to), n, l)
		} else {
			err = m.PredictF64Into(e.data.rowsF64(from, to), n, l)
		}
		if err == nil {
			return nil, slicesEqual(l[:n], e.labels[from:to])
		}
	default:
		if kind == 2 {
			err = m.PredictProbaInto(e.data.rowsI8(from, to), n, p)
		} else {
			err = m.PredictProbaF64Into(e.data.rowsF64(from, to), n, p)
		}
		if err == nil {
			for i := 0; i < 2*n; i++ {
				if math.Float64bits(p[i]) != math.Float64bits(e.proba[2*from+i]) {
					return nil, false
				}
			}
			return nil, true
		}
	}
	return err, false
}

// TestConcurrentPredictions: 32 goroutines share one model; every result equals the serial one.
func TestConcurrentPredictions(t *testing.T) {
	for _, name := range []string{"du_entropy_d14_lgk12", "mushroom_gini_d5_lgk12"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name)
			exp := serialResults(t, m, refModelByName(t, name).dataset)
			const goroutines, calls = 32, 150
			var wg sync.WaitGroup
			var done atomic.Int64
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 99))
					l := make([]int32, 64)
					p := make([]float64, 128)
					for i := 0; i < calls; i++ {
						err, ok := exp.predictRandom(m, rng, l, p)
						if err != nil || !ok {
							t.Errorf("goroutine %d call %d: wrong result (%v)", g, i, err)
							return
						}
						done.Add(1)
					}
				}(g)
			}
			wg.Wait()
			if done.Load() != goroutines*calls {
				t.Fatalf("%d of %d calls completed", done.Load(), goroutines*calls)
			}
		})
	}
}

// TestCloseWhilePredicting: Close, called from several goroutines while 16 others predict,
// waits for the calls in flight; every call returns a correct answer or ErrClosed, and every
// call after Close returns ErrClosed. No crash, no race.
func TestCloseWhilePredicting(t *testing.T) {
	const name = "mushroom_gini_d5_lgk12"
	probe := loadModel(t, name)
	exp := serialResults(t, probe, refModelByName(t, name).dataset)
	for round := 0; round < 10; round++ {
		m, err := Load(modelPath(t, name))
		if err != nil {
			t.Fatal(err)
		}
		const predictors, closers = 16, 4
		var (
			wg                sync.WaitGroup
			warm              sync.WaitGroup
			successes, closed atomic.Int64
		)
		warm.Add(predictors)
		for g := 0; g < predictors; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				l := make([]int32, 16)
				p := make([]float64, 32)
				first := true
				for {
					err, ok := exp.predictRandom(m, rng, l, p)
					if err == nil && ok {
						successes.Add(1)
						if first {
							first = false
							warm.Done()
						}
						continue
					}
					if errors.Is(err, ErrClosed) && !first {
						closed.Add(1)
						return
					}
					t.Errorf("round %d goroutine %d: %v (result correct: %v)", round, g, err, ok)
					if first {
						warm.Done()
					}
					return
				}
			}(g)
		}
		warm.Wait() // every predictor is running before the model closes
		var cw sync.WaitGroup
		for c := 0; c < closers; c++ {
			cw.Add(1)
			go func() {
				defer cw.Done()
				if err := m.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
		}
		cw.Wait()
		// After Close returned, no call may succeed.
		if err := m.PredictInto(exp.data.rowsI8(0, 1), 1, make([]int32, 1)); !errors.Is(err, ErrClosed) {
			t.Fatalf("call after Close: %v", err)
		}
		wg.Wait()
		if closed.Load() != predictors {
			t.Fatalf("round %d: %d of %d predictors saw ErrClosed", round, closed.Load(), predictors)
		}
		if successes.Load() < predictors {
			t.Fatalf("round %d: only %d successful calls", round, successes.Load())
		}
	}
}

// TestFinalizer: a model dropped without Close is freed by its finalizer; Close disarms it.
func TestFinalizer(t *testing.T) {
	var mu sync.Mutex
	runs := map[uintptr][]bool{}
	hook := func(m uintptr, freed bool) {
		mu.Lock()
		runs[m] = append(runs[m], freed)
		mu.Unlock()
	}
	finalizeHook.Store(&hook)
	defer finalizeHook.Store(nil)

	path := modelPath(t, errModel)
	var dropped, closed uintptr
	func() {
		a, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Predict(make([]int8, a.NFeatures()), 1); err != nil {
			t.Fatal(err)
		}
		b.Close()
		dropped, closed = uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(b))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		n := len(runs[dropped])
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the finalizer of a dropped model never ran")
		}
	}
	// Both became unreachable together; give a wrongly armed finalizer the same chance.
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := runs[dropped]; len(got) != 1 || !got[0] {
		t.Errorf("dropped model: finalizer runs %v, want one that frees", got)
	}
	if got := runs[closed]; len(got) != 0 {
		t.Errorf("closed model: finalizer ran %v; Close must disarm it", got)
	}
}

// TestIntoDoesNotAllocate: the Into variants allocate nothing, for 1 and 1024 rows.
func TestIntoDoesNotAllocate(t *testing.T) {
	m := loadModel(t, errModel)
	data := readDataset(t, refModelByName(t, errModel).dataset, true)
	for _, rows := range []int{1, 1024} {
		x8, x64 := data.rowsI8(0, rows), data.rowsF64(0, rows)
		l := make([]int32, rows)
		p := make([]float64, 2*rows)
		for name, f := range map[string]func() error{
			"PredictInto":         func() error { return m.PredictInto(x8, rows, l) },
			"PredictProbaInto":    func() error { return m.PredictProbaInto(x8, rows, p) },
			"PredictF64Into":      func() error { return m.PredictF64Into(x64, rows, l) },
			"PredictProbaF64Into": func() error { return m.PredictProbaF64Into(x64, rows, p) },
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

// TestDirectMatchesBinding: the unguarded helpers used by the overhead benchmark compute the
// same thing as the binding (so the benchmark compares like with like).
func TestDirectMatchesBinding(t *testing.T) {
	m := loadModel(t, errModel)
	data := readDataset(t, refModelByName(t, errModel).dataset, true)
	rows := 100
	l1, l2 := make([]int32, rows), make([]int32, rows)
	p1, p2 := make([]float64, 2*rows), make([]float64, 2*rows)
	if rc := directPredict(m, data.rowsI8(0, rows), rows, l1); rc != 0 {
		t.Fatalf("directPredict: %d", rc)
	}
	if err := m.PredictInto(data.rowsI8(0, rows), rows, l2); err != nil || !slicesEqual(l1, l2) {
		t.Fatalf("labels differ (%v)", err)
	}
	if rc := directPredictProba(m, data.rowsI8(0, rows), rows, p1); rc != 0 {
		t.Fatalf("directPredictProba: %d", rc)
	}
	if err := m.PredictProbaInto(data.rowsI8(0, rows), rows, p2); err != nil || !slicesEqual(p1, p2) {
		t.Fatalf("probabilities differ (%v)", err)
	}
	if rc := directPredictProbaF64(m, data.rowsF64(0, rows), rows, p1); rc != 0 {
		t.Fatalf("directPredictProbaF64: %d", rc)
	}
	if err := m.PredictProbaF64Into(data.rowsF64(0, rows), rows, p2); err != nil || !slicesEqual(p1, p2) {
		t.Fatalf("float64 probabilities differ (%v)", err)
	}
}
