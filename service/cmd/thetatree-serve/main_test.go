package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as thetatree-serve itself (TT_SERVE_AS_MAIN=1), so the
// process tests exercise real signals and exit codes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("TT_SERVE_AS_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	if serveBin.dir != "" {
		os.RemoveAll(serveBin.dir)
	}
	os.Exit(code)
}

// serveBin is thetatree-serve built without the race detector, for the tests that measure
// the process (its memory) or load it hard.
var serveBin struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func serveBinary(t *testing.T) string {
	t.Helper()
	serveBin.once.Do(func() {
		serveBin.dir, serveBin.err = os.MkdirTemp("", "thetatree-serve-test")
		if serveBin.err != nil {
			return
		}
		serveBin.path = filepath.Join(serveBin.dir, "thetatree-serve")
		cmd := exec.Command("go", "build", "-o", serveBin.path, ".")
		serveBin.out, serveBin.err = cmd.CombinedOutput()
	})
	if serveBin.err != nil {
		t.Fatalf("go build: %v\n%s", serveBin.err, serveBin.out)
	}
	return serveBin.path
}

type serverProcess struct {
	cmd       *exec.Cmd
	addr      string
	adminAddr string
	mu        sync.Mutex
	logs      []string
	done      chan struct{}
}

func (p *serverProcess) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// hasLine reports whether one log line contains all the parts.
func (p *serverProcess) hasLine(parts ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.logs {
		ok := true
		for _, s := range parts {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return true
		}
	}
	return false
}

// startProcess runs the test binary as thetatree-serve.
func startProcess(t *testing.T, env []string, args ...string) *serverProcess {
	t.Helper()
	return startBinary(t, os.Args[0], append([]string{"TT_SERVE_AS_MAIN=1"}, env...), args...)
}

// startBinary runs bin with the environment plus env and waits until it listens.
func startBinary(t *testing.T, bin string, env []string, args ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				p.mu.Lock()
				p.adminAddr, _ = rec["admin_addr"].(string)
				p.mu.Unlock()
				addrc <- rec["addr"].(string)
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	select {
	case p.addr = <-addrc:
	case <-p.done:
		cmd.Wait()
		t.Fatalf("server exited before listening:\n%s", p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", p.logText())
	}
	return p
}

func (p *serverProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not exit:\n%s", p.logText())
	}
	p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

// TestProcessSignals runs the real program: configuration from the environment, SIGHUP
// reloads (a good version is taken, a corrupt one refused), SIGTERM drains an in-flight
// request and exits 0, and every log line is a JSON object.
func TestProcessSignals(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	p := startProcess(t, []string{"MODEL_DIR=" + dir, "PORT=0", "HOST=127.0.0.1", "DRAIN_DELAY=100ms", "ADMIN_ADDR=127.0.0.1:0",
		"ADMIN_TOKEN=" + testToken})
	url := "http://" + p.addr
	code, b, _ := do(t, nil, http.MethodPost, url+"/predict", "", strings.NewReader(`{"instances":[{"odor=n":1}]}`))
	if code != 200 || !strings.Contains(string(b), `"model_version":"v1"`) {
		t.Fatalf("/predict: %d %s", code, b)
	}

	port := p.addr[strings.LastIndexByte(p.addr, ':')+1:]
	portEnv := func(k string) string { return map[string]string{"PORT": port}[k] }
	if code := run([]string{"healthcheck"}, portEnv, io.Discard); code != 0 {
		t.Fatalf("healthcheck: exit %d", code)
	}
	if code := run([]string{"healthcheck", "/nope"}, portEnv, io.Discard); code != 1 {
		t.Fatalf("healthcheck of a 404: exit %d", code)
	}
	// The admin API answers on its own listener only, and through `thetatree-serve admin`.
	if code, _, _ := do(t, nil, http.MethodPost, url+"/admin/reload", testToken, nil); code != 404 {
		t.Fatalf("/admin/reload on the public port: %d", code)
	}
	adminEnv := func(k string) string {
		return map[string]string{"ADMIN_ADDR": p.adminAddr, "ADMIN_TOKEN": testToken}[k]
	}
	var out bytes.Buffer
	if code := adminCommand([]string{"reload"}, adminEnv, &out, io.Discard); code != 0 || !strings.Contains(out.String(), `"status":"unchanged"`) {
		t.Fatalf("thetatree-serve admin reload: exit %d, %s", code, out.String())
	}
	out.Reset()
	if code := adminCommand([]string{"reload", "v7"}, adminEnv, &out, io.Discard); code != 1 || !strings.Contains(out.String(), codeUnknownVersion) {
		t.Fatalf("thetatree-serve admin reload v7: exit %d, %s", code, out.String())
	}
	if code := adminCommand([]string{"frobnicate"}, adminEnv, io.Discard, io.Discard); code != 2 {
		t.Fatalf("unknown admin command: exit %d", code)
	}

	readyVersion := func() string {
		_, b, _ := do(t, nil, http.MethodGet, url+"/ready", "", nil)
		var r map[string]any
		json.Unmarshal(b, &r)
		v, _ := r["model_version"].(string)
		return v
	}
	publishVersion(t, dir, "v2", exampleModel(t, "v2"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "v2 to serve after SIGHUP", func() bool { return readyVersion() == "v2" })

	publishVersion(t, dir, "v3", corruptCopy(t, exampleModel(t, "v1")))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refusal of v3", func() bool {
		return p.hasLine(`"msg":"model version refused"`, `"version":"v3"`, `"reason":"checksum"`)
	})
	if v := readyVersion(); v != "v2" {
		t.Fatalf("serving %s after a refused reload", v)
	}
	_, m, _ := do(t, nil, http.MethodGet, url+"/metrics", "", nil)
	if !strings.Contains(string(m), `thetatree_model_reloads_total{result="failure"} 1`) ||
		!strings.Contains(string(m), `thetatree_model_load_failures_total{reason="checksum"} 1`) {
		t.Errorf("reload metrics:\n%s", m)
	}

	// An in-flight request survives SIGTERM.
	body := `{"instances":[{"odor=n":1}]}`
	pr, pw := io.Pipe()
	res := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/predict", pr)
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res <- resp.StatusCode
	}()
	pw.Write([]byte(body[:5]))
	time.Sleep(100 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "shutdown to begin", func() bool { return p.hasLine(`"msg":"shutting down"`) })
	time.Sleep(200 * time.Millisecond)
	pw.Write([]byte(body[5:]))
	pw.Close()
	if code := <-res; code != 200 {
		t.Fatalf("in-flight request during SIGTERM: %d", code)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, p.logText())
	}
	logs := p.logText()
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] == nil || rec["msg"] == nil || rec["time"] == nil {
			t.Errorf("not a structured log line: %q", line)
		}
	}
	for _, want := range []string{`"source":"sighup"`, `"msg":"request"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

// TestRunExitCodes: configuration errors exit 2, an unservable model directory exits 1.
func TestRunExitCodes(t *testing.T) {
	var out bytes.Buffer
	if code := run(nil, noEnv, &out); code != 2 || !strings.Contains(out.String(), "MODEL_DIR") {
		t.Fatalf("no model dir: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-help"}, noEnv, &out); code != 0 || !strings.Contains(out.String(), "MAX_BODY_BYTES") {
		t.Fatalf("-help: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-model-dir", t.TempDir(), "-port", "0"}, noEnv, &out); code != 1 ||
		!strings.Contains(out.String(), `"msg":"startup failed"`) {
		t.Fatalf("empty model dir: exit %d, %q", code, out.String())
	}
}

// TestConfig: flags win over environment variables, which win over defaults.
func TestConfig(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("from-file-0123456789\r\n"), 0o600)
	env := map[string]string{
		"MODEL_DIR": "/models", "PORT": "9000", "MODEL_KEY_FILE": "/keys/k", "ADMIN_TOKEN": "env-token-0123456789",
		"MAX_BODY_BYTES": "2048", "MAX_ROWS": "7", "MAX_JSON_DEPTH": "10", "UNKNOWN_FEATURES": "ignore",
		"MODEL_VERSION": "v3", "KEEP_VERSIONS": "5", "MODEL_MMAP": "true", "SHUTDOWN_TIMEOUT": "3s",
		"DRAIN_DELAY": "1s", "LOG_LEVEL": "debug", "ACCESS_LOG": "false", "HOST": "127.0.0.1",
	}
	getenv := func(k string) string { return env[k] }
	c, err := parseConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ModelDir != "/models" || c.Port != 9000 || c.KeyFile != "/keys/k" || c.AdminToken != "env-token-0123456789" ||
		c.MaxBodyBytes != 2048 || c.MaxRows != 7 || c.MaxJSONDepth != 10 || c.UnknownFeatures != "ignore" ||
		c.PinVersion != "v3" || c.KeepVersions != 5 || !c.Mmap || c.ShutdownTimeout != 3*time.Second ||
		c.DrainDelay != time.Second || c.LogLevel.String() != "DEBUG" || c.AccessLog || c.Addr() != "127.0.0.1:9000" {
		t.Fatalf("from env: %+v", c)
	}
	c, err = parseConfig([]string{"-port", "9100", "-max-rows", "9", "-admin-token-file", token}, getenv, io.Discard)
	if err != nil || c.Port != 9100 || c.MaxRows != 9 || c.AdminToken != "from-file-0123456789" || c.ModelDir != "/models" {
		t.Fatalf("flags over env: %+v %v", c, err)
	}
	c, err = parseConfig([]string{"-model-dir", "d"}, noEnv, io.Discard)
	if err != nil || c.Port != 8080 || c.MaxBodyBytes != 4<<20 || c.MaxRows != 10000 || c.MaxJSONDepth != 32 ||
		c.UnknownFeatures != "reject" || c.Mmap || !c.AccessLog || c.AdminToken != "" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, bad := range [][]string{
		{"-model-dir", "d", "-unknown-features", "drop"}, {"-model-dir", "d", "-max-json-depth", "2"},
		{"-model-dir", "d", "-max-rows", "0"}, {"-model-dir", "d", "-port", "70000"}, {"-model-dir", "d", "-pin-version", "../x"},
		{"-model-dir", "d", "-log-level", "loud"}, {"-model-dir", "d", "extra"}, {"-model-dir", "d", "-admin-token-file", "/nonexistent"},
	} {
		if _, err := parseConfig(bad, noEnv, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseConfig(nil, func(k string) string { return map[string]string{"MODEL_DIR": "d", "PORT": "x"}[k] }, io.Discard); err == nil {
		t.Error("PORT=x accepted")
	}
}
