package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// differingRows returns rows on which the two example versions answer differently (labels or
// probability bits), plus each version's expected answer.
func differingRows(t testing.TB, n int) ([][]int8, map[string]predictResponse) {
	t.Helper()
	rng := rand.New(rand.NewSource(11))
	var cand [][]int8
	for i := 0; i < 4000; i++ {
		r := make([]int8, 117)
		for j := range r {
			r[j] = int8(rng.Intn(3) - 1)
		}
		cand = append(cand, r)
	}
	l1, p1 := libraryPredict(t, exampleModel(t, "v1"), cand)
	l2, p2 := libraryPredict(t, exampleModel(t, "v2"), cand)
	var rows [][]int8
	exp := map[string]predictResponse{"v1": {}, "v2": {}}
	e1, e2 := exp["v1"], exp["v2"]
	for i := range cand {
		if l1[i] == l2[i] && p1[2*i] == p2[2*i] && i%7 != 0 { // keep a few equal rows too
			continue
		}
		rows = append(rows, cand[i])
		e1.Predictions = append(e1.Predictions, l1[i])
		e2.Predictions = append(e2.Predictions, l2[i])
		e1.Probabilities = append(e1.Probabilities, [2]float64{p1[2*i], p1[2*i+1]})
		e2.Probabilities = append(e2.Probabilities, [2]float64{p2[2*i], p2[2*i+1]})
		if len(rows) == n {
			break
		}
	}
	if len(rows) < n || fmt.Sprint(e1.Probabilities) == fmt.Sprint(e2.Probabilities) {
		t.Fatalf("could not find %d rows that tell the versions apart", n)
	}
	exp["v1"], exp["v2"] = e1, e2
	return rows, exp
}

func sameAnswer(got, want predictResponse) bool {
	if len(got.Predictions) != len(want.Predictions) || len(got.Probabilities) != len(want.Probabilities) {
		return false
	}
	for i := range want.Predictions {
		if got.Predictions[i] != want.Predictions[i] {
			return false
		}
		for k := 0; k < 2; k++ {
			if math.Float64bits(got.Probabilities[i][k]) != math.Float64bits(want.Probabilities[i][k]) {
				return false
			}
		}
	}
	return true
}

// TestConcurrentRequestsDuringReloadsAndRollbacks: clients predict without pause while the
// served version flips between v1 and v2 through reloads (admin, SIGHUP path) and rollbacks.
// Every request must succeed, and every answer must be entirely the answer of the version it
// names (no mixed-version answer). Afterwards every swapped-out model has been freed.
func TestConcurrentRequestsDuringReloadsAndRollbacks(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1"), "v2": exampleModel(t, "v2")})
	ta := newTestApp(t, testConfig(t, dir, "-keep-versions", "1"))
	rows, exp := differingRows(t, 24)
	digests := map[string]string{}
	for _, v := range []string{"v1", "v2"} {
		m, err := thetatree.Load(exampleModel(t, v), thetatree.WithCopy())
		if err != nil {
			t.Fatal(err)
		}
		digests[v] = m.DigestHex()
		m.Close()
	}
	bodies := []string{featuresBody(rows, false), featuresBody(rows, true)}

	deadline := time.Now().Add(2 * time.Second)
	var (
		wg       sync.WaitGroup
		seen     sync.Map
		requests atomic.Int64
		failures atomic.Int64
		swaps    atomic.Int64
	)
	client := ta.srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				resp, err := client.Post(ta.srv.URL+"/predict", "application/json", strings.NewReader(bodies[(w+i)%2]))
				if err != nil {
					failures.Add(1)
					t.Errorf("request: %v", err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				requests.Add(1)
				if resp.StatusCode != 200 {
					failures.Add(1)
					t.Errorf("status %d: %s", resp.StatusCode, b)
					return
				}
				got := decodePredict(t, b)
				want, ok := exp[got.ModelVersion]
				if !ok || got.ModelDigest != digests[got.ModelVersion] || !sameAnswer(got, want) {
					failures.Add(1)
					t.Errorf("answer labelled %s (digest %s) is not that version's answer", got.ModelVersion, got.ModelDigest)
					return
				}
				n, _ := seen.LoadOrStore(got.ModelVersion, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ops := []func() bool{
			func() bool { c, _ := ta.admin(t, "/admin/reload", `{"version":"v1"}`); return c == 200 },
			func() bool { c, _ := ta.admin(t, "/admin/rollback", ""); return c == 200 }, // back to v2
			func() bool { c, _ := ta.admin(t, "/admin/reload", `{"version":"v1"}`); return c == 200 },
			func() bool { ta.reloadFromSignal(); return true }, // automatic: v2 was rolled back from, stays v1
			func() bool { c, _ := ta.admin(t, "/admin/reload", `{"version":"v2"}`); return c == 200 },
		}
		for i := 0; time.Now().Before(deadline); i++ {
			before := ta.reg.Current().Version
			if !ops[i%len(ops)]() {
				t.Errorf("swap operation %d failed", i%len(ops))
				return
			}
			if ta.reg.Current().Version != before {
				swaps.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	n1, n2 := int64(0), int64(0)
	if v, ok := seen.Load("v1"); ok {
		n1 = v.(*atomic.Int64).Load()
	}
	if v, ok := seen.Load("v2"); ok {
		n2 = v.(*atomic.Int64).Load()
	}
	t.Logf("%d requests (%d answered by v1, %d by v2), %d swaps, %d failures", requests.Load(), n1, n2, swaps.Load(), failures.Load())
	if failures.Load() != 0 || n1 == 0 || n2 == 0 || swaps.Load() < 10 {
		t.Fatal("want no failure, answers from both versions and at least 10 swaps")
	}
	// Only the current model and at most one kept version remain loaded.
	if live := ta.reg.live.Load(); live > 2 {
		t.Fatalf("%d models still loaded", live)
	}
	ta.reg.Close()
	if live := ta.reg.live.Load(); live != 0 {
		t.Fatalf("%d models not freed after Close", live)
	}
}

// TestGracefulShutdownDrainsInFlight: a request in progress when shutdown starts completes
// with 200; /ready reports 503 during the drain delay; then the listener closes and the model
// is freed.
func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-drain-delay", "300ms"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ta.serve(ctx, ln, nil) }()
	waitReady(t, url)
	model := ta.reg.Current()

	// A request whose body arrives in two parts, the second after shutdown has begun.
	body := `{"instances":[{"odor=n":1},{"odor=f":1}]}`
	pr, pw := io.Pipe()
	type result struct {
		code int
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/predict", pr)
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: b}
	}()
	pw.Write([]byte(body[:10]))
	waitFor(t, "the request to be in flight", func() bool { return testutil.ToFloat64(ta.metrics.inflight) >= 1 })

	// Keep-alive connection opened before shutdown, to probe /ready during the drain delay.
	probe := &http.Client{Transport: &http.Transport{}}
	if code, _, _ := do(t, probe, http.MethodGet, url+"/ready", "", nil); code != 200 {
		t.Fatalf("/ready before shutdown: %d", code)
	}
	start := time.Now()
	cancel()
	waitFor(t, "shutdown to begin", ta.shuttingDown.Load)
	code, b, _ := do(t, probe, http.MethodGet, url+"/ready", "", nil)
	if code != 503 || !strings.Contains(string(b), "shutting_down") {
		t.Fatalf("/ready while draining: %d %s", code, b)
	}
	if code, _, _ := do(t, probe, http.MethodGet, url+"/health", "", nil); code != 200 {
		t.Fatalf("/health while draining: %d", code)
	}
	time.Sleep(400 * time.Millisecond) // past the drain delay: the listener is closed now
	select {
	case err := <-served:
		t.Fatalf("serve returned with a request in flight: %v", err)
	default:
	}
	select {
	case <-model.closed:
		t.Fatal("model freed with a request in flight")
	default:
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("new connections still accepted after the drain delay")
	}
	pw.Write([]byte(body[10:]))
	pw.Close()
	r := <-done
	if r.err != nil || r.code != 200 || !strings.Contains(string(r.body), `"model_version":"v1"`) {
		t.Fatalf("in-flight request: %d %s %v", r.code, r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after the last request")
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("shutdown did not wait for the drain delay")
	}
	select {
	case <-model.closed:
	case <-time.After(time.Second):
		t.Fatal("model not freed after shutdown")
	}
}

// TestShutdownTimeout: a request that never finishes cannot hold shutdown beyond the timeout.
func TestShutdownTimeout(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-shutdown-timeout", "200ms"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ta.serve(ctx, ln, nil) }()
	url := "http://" + ln.Addr().String()
	waitReady(t, url)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/predict", pr)
		req.ContentLength = 1000
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	pw.Write([]byte(`{"features":[`))
	waitFor(t, "the request to be in flight", func() bool { return testutil.ToFloat64(ta.metrics.inflight) >= 1 })
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("serve: %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown hung past its timeout")
	}
}

func waitReady(t testing.TB, url string) {
	t.Helper()
	waitFor(t, url+"/ready", func() bool {
		resp, err := http.Get(url + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
