package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// holdRequest starts a /predict whose body never completes; it returns when the server is
// reading it, and the connection (close it to end the request).
func holdRequest(t *testing.T, addr string, declared int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", declared)
	return c
}

func readAnswer(t *testing.T, c net.Conn) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// TestMemoryBudgetSheds (finding 2): bodies that do not fit the request memory budget are
// refused at once with 503 + Retry-After (declared lengths and chunked bodies alike), and the
// budget is returned when requests end.
func TestMemoryBudgetSheds(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-body-bytes", "1048576", "-max-inflight-bytes", "2097152", "-drain-delay", "0"))
	addr := startServing(t, ta)
	held := []net.Conn{holdRequest(t, addr, 900<<10), holdRequest(t, addr, 900<<10)}
	waitFor(t, "both bodies reserved", func() bool { return ta.budget.used.Load() >= 1800<<10 })
	// A third declared body does not fit.
	c := holdRequest(t, addr, 900<<10)
	resp, b := readAnswer(t, c)
	c.Close()
	if e := decodeError(t, b); resp.StatusCode != 503 || e.Error.Code != codeOverloaded || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d %s", resp.StatusCode, b)
	}
	// Nor does a chunked one that grows past it.
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/predict", io.MultiReader(strings.NewReader(`{"features":[`),
		strings.NewReader(strings.Repeat(" ", 800<<10)), strings.NewReader("]}")))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || decodeError(t, b).Error.Code != codeOverloaded {
			t.Fatalf("chunked over the budget: %d %s", resp.StatusCode, b)
		}
	} // else: the server answered and closed before the client finished sending: also fine
	// Small requests still fit; the health probe is not subject to the budget.
	mustOK(t, ta, `{"instances":[{"odor=n":1}]}`)
	if code, _ := ta.get(t, "/health"); code != 200 {
		t.Fatalf("/health: %d", code)
	}
	for _, h := range held {
		h.Close()
	}
	waitFor(t, "the budget to be returned", func() bool { return ta.budget.used.Load() == 0 })
	if !metric(t, ta, `thetatree_requests_shed_total{reason="memory"} 2`) && !metric(t, ta, `thetatree_requests_shed_total{reason="memory"} 1`) {
		t.Error("memory sheds not counted")
	}
}

// TestConcurrencyCap (finding 2): past MAX_CONCURRENT_REQUESTS, /predict is 503 +
// Retry-After; /health still answers.
func TestConcurrencyCap(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-concurrent-requests", "2", "-drain-delay", "0"))
	addr := startServing(t, ta)
	held := []net.Conn{holdRequest(t, addr, 100), holdRequest(t, addr, 100)}
	waitFor(t, "two requests in progress", func() bool { return ta.concurrent.Load() == 2 })
	code, b, h := do(t, nil, http.MethodPost, "http://"+addr+"/predict", "", strings.NewReader(`{"features":[]}`))
	if code != 503 || decodeError(t, b).Error.Code != codeOverloaded || h.Get("Retry-After") != "1" {
		t.Fatalf("third concurrent request: %d %s", code, b)
	}
	if code, _, _ := do(t, nil, http.MethodGet, "http://"+addr+"/health", "", nil); code != 200 {
		t.Fatalf("/health: %d", code)
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "the requests to end", func() bool { return ta.concurrent.Load() == 0 })
	mustOK(t, ta, `{"features":[]}`)
	if !metric(t, ta, `thetatree_requests_shed_total{reason="concurrency"} 1`) {
		t.Error("not counted")
	}
}

// TestBodyReadTimeout (finding 2): a body that stalls is cut at BODY_READ_TIMEOUT with a
// JSON 408, and its memory returned.
func TestBodyReadTimeout(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-body-read-timeout", "300ms", "-drain-delay", "0"))
	addr := startServing(t, ta)
	c := holdRequest(t, addr, 4000)
	defer c.Close()
	resp, b := readAnswer(t, c)
	if e := decodeError(t, b); resp.StatusCode != 408 || e.Error.Code != codeBodyTimeout {
		t.Fatalf("stalled body: %d %s", resp.StatusCode, b)
	}
	waitFor(t, "the budget to be returned", func() bool { return ta.budget.used.Load() == 0 })
}

// TestConnectionCap (finding 2): past MAX_CONNECTIONS a new connection gets a JSON 503 and
// is closed; closing one makes room.
func TestConnectionCap(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-connections", "3", "-drain-delay", "0"))
	addr := startServing(t, ta) // waitReady's connection is closed by now, or soon
	var conns []net.Conn
	for len(conns) < 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := readAnswer(t, c); resp.StatusCode != 200 {
			c.Close()
			time.Sleep(10 * time.Millisecond) // the probe connection had not closed yet
			continue
		}
		conns = append(conns, c)
	}
	resp, b := rawExchange(t, addr, []byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), 10*time.Second)
	if e := decodeError(t, b); resp.StatusCode != 503 || e.Error.Code != codeTooManyConnections {
		t.Fatalf("fourth connection: %d %s", resp.StatusCode, b)
	}
	conns[0].Close()
	waitFor(t, "room for a connection", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		return err == nil && r.StatusCode == 200
	})
	for _, c := range conns[1:] {
		c.Close()
	}
}

// TestInstancesMatrixCharged: the parsed matrix counts against the budget too ({} rows are
// 3 bytes of JSON but n_features bytes of matrix).
func TestInstancesMatrixCharged(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-max-body-bytes", "65536", "-max-inflight-bytes", "131072", "-max-rows", "100000"))
	body := `{"instances":[` + strings.Repeat(`{},`, 5000) + `{}]}` // 15 KB of JSON, 585 KB of matrix
	code, b := ta.post(t, "/predict", body)
	if code != 503 || decodeError(t, b).Error.Code != predict.CodeOverloaded {
		t.Fatalf("matrix over the budget: %d %s", code, b)
	}
	mustOK(t, ta, `{"instances":[`+strings.Repeat(`{},`, 100)+`{}]}`)
}
