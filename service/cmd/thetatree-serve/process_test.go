package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rssBytes is the resident set size of process pid.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// rssConstant is what the process may hold beyond MAX_INFLIGHT_BYTES: the Go runtime, the
// library and model, goroutines and buffers of a few hundred connections. An idle process
// is about 15 MB.
const rssConstant = 64 << 20

// TestSlowClientsMemoryBounded (finding 2): 200 clients each declare a 4 MiB body and stall 6
// bytes short. RSS stays under MAX_INFLIGHT_BYTES plus rssConstant, /health answers
// throughout, and clients past the budget get 503 + Retry-After at once. Bounded by counts:
// every client ends (refused, or timed out by BODY_READ_TIMEOUT) and every probe answers.
func TestSlowClientsMemoryBounded(t *testing.T) {
	const (
		clients = 200
		body    = 4 << 20
		budget  = 32 << 20
	)
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	p := startBinary(t, binaryUnderTest(t), []string{"MODEL_DIR=" + dir, "PORT=0", "HOST=127.0.0.1", "ADMIN_ADDR=off",
		"ACCESS_LOG=false", "MAX_INFLIGHT_BYTES=" + strconv.Itoa(budget), "BODY_READ_TIMEOUT=20s", "DRAIN_DELAY=0"})
	url := "http://" + p.addr
	pid := p.cmd.Process.Pid
	for i := 0; i < 20; i++ { // warm up: buffers, goroutines
		do(t, nil, http.MethodPost, url+"/predict", "", strings.NewReader(`{"instances":[{"odor=n":1}]}`))
	}
	idle := rssBytes(t, pid)

	var (
		wg              sync.WaitGroup
		sent, refused   atomic.Int64
		timedOut, other atomic.Int64
		peak            atomic.Int64
	)
	prefix := []byte(`{"features":[[`)
	payload := append(prefix, []byte(strings.Repeat(" ", body-6-len(prefix)))...)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				other.Add(1)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(90 * time.Second))
			fmt.Fprintf(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", body)
			go func() {
				if _, err := c.Write(payload); err == nil {
					sent.Add(1)
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			switch {
			case err != nil:
				other.Add(1)
			case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
				refused.Add(1)
			case resp.StatusCode == 408:
				timedOut.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	probes, failed := 0, 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-time.After(100 * time.Millisecond):
		}
		if r := rssBytes(t, pid); r > peak.Load() {
			peak.Store(r)
		}
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Get(url + "/health")
		if err != nil || resp.StatusCode != 200 {
			failed++
			t.Logf("/health during the attack: %v %v", err, resp)
		} else {
			resp.Body.Close()
			probes++
		}
	}
	t.Logf("idle RSS %d MiB, peak %d MiB (budget %d MiB + %d MiB); %d clients refused with 503, %d held until the 408, %d other; %d health probes",
		idle>>20, peak.Load()>>20, budget>>20, rssConstant>>20, refused.Load(), timedOut.Load(), other.Load(), probes)
	if peak.Load() > budget+rssConstant {
		t.Errorf("peak RSS %d MiB over the budget %d MiB + %d MiB", peak.Load()>>20, budget>>20, rssConstant>>20)
	}
	if failed > 0 || probes < 5 {
		t.Errorf("/health: %d failed, %d answered", failed, probes)
	}
	if held := timedOut.Load(); held > budget/body || refused.Load()+held+other.Load() != clients || refused.Load() < clients-budget/body-other.Load() {
		t.Errorf("%d refused, %d held, %d other: want at most %d held", refused.Load(), held, other.Load(), budget/body)
	}
	if code, b, _ := do(t, nil, http.MethodPost, url+"/predict", "", strings.NewReader(`{"instances":[{"odor=n":1}]}`)); code != 200 {
		t.Fatalf("/predict after the attack: %d %s", code, b)
	}
}

// TestSIGTERMUnderLoadLosesNothing (finding 4): clients on keep-alive connections predict
// without pause while the process gets SIGTERM with the default drain. A load balancer
// (here: a goroutine polling /ready, as a readiness probe with a 1 s timeout) takes the
// instance out of rotation when /ready fails; until then every request is sent, and every
// request sent must get its answer.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	for round := 0; round < 2; round++ {
		p := startBinary(t, binaryUnderTest(t), []string{"MODEL_DIR=" + dir, "PORT=0", "HOST=127.0.0.1", "ADMIN_ADDR=off",
			"ACCESS_LOG=false"})
		base := "http://" + p.addr
		var inRotation atomic.Bool
		inRotation.Store(true)
		lbDone := make(chan struct{})
		go func() { // the load balancer's readiness probe
			defer close(lbDone)
			probe := &http.Client{Timeout: time.Second}
			for inRotation.Load() {
				resp, err := probe.Get(base + "/ready")
				if err != nil || resp.StatusCode != 200 {
					inRotation.Store(false)
				}
				if err == nil {
					resp.Body.Close()
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		const workers = 16
		var (
			wg                  sync.WaitGroup
			ok, failed, drained atomic.Int64
			firstErr            atomic.Value
		)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
				for inRotation.Load() {
					resp, err := client.Post(base+"/predict", "application/json", strings.NewReader(`{"instances":[{"odor=n":1},{"odor=f":1}]}`))
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						return
					}
					_, rerr := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || rerr != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %v", resp.StatusCode, rerr))
						return
					}
					if resp.Header.Get("Connection") == "close" || resp.Close {
						drained.Add(1)
					}
					ok.Add(1)
				}
			}()
		}
		waitFor(t, "load to build up", func() bool { return ok.Load() >= 500 })
		p.cmd.Process.Signal(syscall.SIGTERM)
		wg.Wait()
		<-lbDone
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit code %d:\n%s", code, p.logText())
		}
		t.Logf("round %d: %d requests answered (%d with Connection: close while draining), %d failed", round, ok.Load(), drained.Load(), failed.Load())
		if failed.Load() != 0 {
			t.Fatalf("round %d: %d requests failed during SIGTERM (first: %v)", round, failed.Load(), firstErr.Load())
		}
	}
}
