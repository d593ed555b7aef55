package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The findings of issue 13 replayed against the real program from outside, as the attacker
// did: files, signals and HTTP only. They run against the binary built from this tree, or
// against TT_SERVE_BINARY (e.g. an older build, to see them fail there).

func binaryUnderTest(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TT_SERVE_BINARY"); p != "" {
		return p
	}
	return serveBinary(t)
}

// attackTarget runs the program on dir with an admin token; the admin API is wherever the
// program puts it (its own listener if it logs one, else the public port).
type attackTarget struct {
	*serverProcess
	url, admin string
}

func startTarget(t *testing.T, dir string, env ...string) *attackTarget {
	t.Helper()
	env = append([]string{"MODEL_DIR=" + dir, "PORT=0", "HOST=127.0.0.1", "ADMIN_ADDR=127.0.0.1:0",
		"ADMIN_TOKEN=" + testToken, "ACCESS_LOG=false", "DRAIN_DELAY=0"}, env...)
	p := startBinary(t, binaryUnderTest(t), env)
	a := &attackTarget{serverProcess: p, url: "http://" + p.addr, admin: "http://" + p.addr}
	if p.adminAddr != "" {
		a.admin = "http://" + p.adminAddr
	}
	return a
}

func (a *attackTarget) countLines(parts ...string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, l := range a.logs {
		ok := true
		for _, s := range parts {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			n++
		}
	}
	return n
}

func sendJSON(t *testing.T, client *http.Client, method, url, token, contentType, body string) (int, []byte, http.Header, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, nil
}

// Finding 1: a FIFO as a version's model file, then reloads: they answer, model management
// keeps answering, SIGTERM exits.
func TestAttackBlockingVersionFile(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	a := startTarget(t, dir)
	os.Mkdir(filepath.Join(dir, "v20"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(dir, "v20", modelFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := sendJSON(t, nil, http.MethodPost, a.admin+"/admin/reload", testToken, "", ""); err != nil {
		t.Fatalf("POST /admin/reload with a FIFO in the model directory: %v", err)
	}
	a.cmd.Process.Signal(syscall.SIGHUP)
	if code, _, _, err := sendJSON(t, nil, http.MethodGet, a.url+"/v1/model", "", "", ""); err != nil || code != 200 {
		t.Fatalf("GET /v1/model after the reloads: %d %v", code, err)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// Finding 3: the admin API is not on the public port, failed tokens are rate-limited, short
// tokens are refused at start-up.
func TestAttackAdminExposure(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	a := startTarget(t, dir)
	if code, b, _, err := sendJSON(t, nil, http.MethodPost, a.url+"/admin/reload", testToken, "", ""); err != nil || code != 404 {
		t.Errorf("/admin/reload with the right token on the public port: %d %s %v", code, b, err)
	}
	last := 0
	for i := 0; i < 10; i++ {
		last, _, _, _ = sendJSON(t, nil, http.MethodPost, a.admin+"/admin/reload", "guess-"+string(rune('a'+i)), "", "")
	}
	if last != 429 {
		t.Errorf("10th wrong token: %d, want 429", last)
	}
	cmd := exec.Command(binaryUnderTest(t))
	cmd.Env = append(os.Environ(), "MODEL_DIR="+dir, "PORT=0", "HOST=127.0.0.1", "ADMIN_TOKEN=short")
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		if cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("ADMIN_TOKEN=short: exit %d, want 2", cmd.ProcessState.ExitCode())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Error("started with a 5-byte admin token")
	}
}

// Finding 5: a broken version through 20 SIGHUPs is refused once; an admin typo is not a
// reload failure; a downgrade by name survives SIGHUP; a version symlinked out of MODEL_DIR
// is not served.
func TestAttackCarelessOperator(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1"), "v2": exampleModel(t, "v2")})
	a := startTarget(t, dir)
	full, _ := os.ReadFile(exampleModel(t, "v2"))
	trunc := filepath.Join(t.TempDir(), "m")
	os.WriteFile(trunc, full[:len(full)/2], 0o644)
	publishVersion(t, dir, "v3", trunc)
	for i := 0; i < 20; i++ {
		a.cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "the SIGHUPs to be handled", func() bool { return a.countLines(`"source":"sighup"`) >= 1 })
	time.Sleep(500 * time.Millisecond)
	if n := a.countLines(`"msg":"model version refused"`, `"version":"v3"`); n != 1 {
		t.Errorf("v3 refused %d times over 20 SIGHUPs, want once", n)
	}
	sendJSON(t, nil, http.MethodPost, a.admin+"/admin/reload", testToken, "application/json", `{"version":"v9"}`)
	_, m, _, _ := sendJSON(t, nil, http.MethodGet, a.url+"/metrics", "", "", "")
	if !strings.Contains(string(m), `thetatree_model_reloads_total{result="failure"} 1`) {
		t.Errorf("reload failures after one broken version and one typo: %s", grepLines(string(m), "reloads_total"))
	}
	if code, b, _, _ := sendJSON(t, nil, http.MethodPost, a.admin+"/admin/reload", testToken, "application/json", `{"version":"v1"}`); code != 200 {
		t.Fatalf("downgrade by name: %d %s", code, b)
	}
	a.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	readyVersion := func() string {
		_, b, _, _ := sendJSON(t, nil, http.MethodGet, a.url+"/ready", "", "", "")
		var r map[string]any
		json.Unmarshal(b, &r)
		v, _ := r["model_version"].(string)
		return v
	}
	if v := readyVersion(); v != "v1" {
		t.Errorf("after a downgrade by name and a SIGHUP, serving %s", v)
	}
	outside := modelDir(t, map[string]string{"x": exampleModel(t, "v2")})
	os.Symlink(filepath.Join(outside, "x"), filepath.Join(dir, "v99"))
	sendJSON(t, nil, http.MethodPost, a.admin+"/admin/reload", testToken, "application/json", `{"version":"v99"}`)
	if v := readyVersion(); v == "v99" {
		t.Error("serving a version directory symlinked out of MODEL_DIR")
	}
}

// Findings 6 and 7: Content-Type, lone surrogates, net/http's own answers, //predict, /health.
func TestAttackProtocol(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	a := startTarget(t, dir)
	body := `{"instances":[{"odor=n":1}]}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded"} {
		if code, b, _, _ := sendJSON(t, nil, http.MethodPost, a.url+"/predict", "", ct, body); code != 415 {
			t.Errorf("Content-Type %s: %d %s", ct, code, b)
		}
	}
	_, b, _, _ := sendJSON(t, nil, http.MethodPost, a.url+"/predict", "", "application/json", `{"instances":[{"\ud800":1}]}`)
	if !strings.Contains(string(b), `"invalid_json"`) {
		t.Errorf("lone surrogate: %s", b)
	}
	resp, raw := rawExchange(t, a.serverProcess.addr, []byte("GARBAGE\r\n\r\n"), 10*time.Second)
	if resp.Header.Get("Content-Type") != "application/json" || !json.Valid(raw) {
		t.Errorf("malformed request line: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	resp, raw = rawExchange(t, a.serverProcess.addr, []byte("GET //predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 10*time.Second)
	if resp.StatusCode != 404 || !json.Valid(raw) {
		t.Errorf("//predict: %d %s", resp.StatusCode, raw)
	}
	_, b, _, _ = sendJSON(t, nil, http.MethodGet, a.url+"/health", "", "", "")
	var h map[string]any
	if json.Unmarshal(b, &h) != nil || h["status"] != "healthy" || h["model_loaded"] != true {
		t.Errorf("/health: %s", b)
	}
}
