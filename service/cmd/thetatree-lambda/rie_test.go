//go:build rie

package main

// End to end under the AWS Lambda Runtime Interface Emulator: the deployment package's
// static bootstrap runs as Lambda runs it, API Gateway events go through the emulator's
// invoke API on loopback. Run by rie-e2e.sh (it builds the package and installs the
// emulator): TT_RIE = the aws-lambda-rie binary, TT_LAMBDA_TASK = the package directory.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	thetatree "github.com/thetatree/thetatree/bindings/go"

	"github.com/thetatree/thetatree/service/internal/predict"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func TestRIE(t *testing.T) {
	rie, task := os.Getenv("TT_RIE"), os.Getenv("TT_LAMBDA_TASK")
	if rie == "" || task == "" {
		t.Fatal("run through rie-e2e.sh (TT_RIE, TT_LAMBDA_TASK)")
	}
	port, apiPort := freePort(t), freePort(t)
	var logs lockedBuffer
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", "127.0.0.1:"+port,
		"--runtime-api-address", "127.0.0.1:"+apiPort, "./bootstrap")
	cmd.Dir = task
	cmd.Env = append(os.Environ(), "MODEL_PATH=model.ttm", "LAMBDA_TASK_ROOT="+task, "MODEL_VERSION=v2",
		"MAX_BODY_BYTES=1048576", "AWS_LAMBDA_FUNCTION_NAME=thetatree-lambda")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			lines := strings.Split(logs.String(), "\n")
			t.Logf("emulator output (last 40 lines):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}()
	url := "http://127.0.0.1:" + port + "/2015-03-31/functions/function/invocations"
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	call := func(payload []byte) (answer, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewReader(payload))
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 {
			t.Fatalf("emulator status %d: %s", resp.StatusCode, out)
		}
		var r answer
		var raw struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		if err := json.Unmarshal(out, &raw); err != nil || raw.StatusCode == 0 {
			t.Fatalf("not an API Gateway response (%v): %s", err, out)
		}
		r = answer{raw.StatusCode, raw.Headers, []byte(raw.Body)}
		return r, d
	}

	// The expected answers: the shared code, in this process, on the packaged model.
	lib, err := thetatree.Load(filepath.Join(task, "model.ttm"), thetatree.WithCopy())
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	model, err := predict.NewModel(lib, "v2")
	if err != nil {
		t.Fatal(err)
	}
	lim := predict.Limits{MaxRows: 10000, MaxDepth: 32}
	expect := func(body string) []byte {
		var b predict.Buffers
		out, _, e := predict.Predict(model, []byte(body), lim, &b)
		if e != nil {
			return e.Body()
		}
		return append([]byte(nil), out...)
	}
	one := featuresBody(randomRows(1, model.NFeatures, 1))
	hundred := featuresBody(randomRows(100, model.NFeatures, 2))

	// Cold start: the emulator starts the bootstrap at the first invocation.
	first, cold := call(v1Event("POST", "/predict", "application/json", one, false))
	if first.status != 200 || !bytes.Equal(first.body, expect(one)) {
		t.Fatalf("first invocation: %d %s", first.status, first.body)
	}
	for _, c := range []struct {
		name   string
		ev     []byte
		status int
		body   []byte // nil: only the status and error code are checked
		code   string
	}{
		{"REST 100 rows", v1Event("POST", "/predict", "application/json", hundred, false), 200, expect(hundred), ""},
		{"HTTP API", v2Event("POST", "/predict", "$default", "application/json", hundred, false), 200, expect(hundred), ""},
		{"HTTP API stage", v2Event("POST", "/Prod/predict", "Prod", "application/json", one, false), 200, expect(one), ""},
		{"base64", v2Event("POST", "/predict", "$default", "application/json", base64.StdEncoding.EncodeToString([]byte(hundred)), true), 200, expect(hundred), ""},
		{"instances", v1Event("POST", "/predict", "application/json", `{"instances":[{"odor=n":1},{"odor=f":1}]}`, false), 200, expect(`{"instances":[{"odor=n":1},{"odor=f":1}]}`), ""},
		{"invalid JSON", v1Event("POST", "/predict", "application/json", `{"features":[[`, false), 400, expect(`{"features":[[`), predict.CodeInvalidJSON},
		{"bad value", v2Event("POST", "/predict", "", "application/json", `{"features":[[2]]}`, false), 400, nil, predict.CodeBadValue},
		{"wrong width", v2Event("POST", "/predict", "", "application/json", `{"features":[[0,1]]}`, false), 400, nil, predict.CodeWrongWidth},
		{"too large", v1Event("POST", "/predict", "application/json", `{"features":[`+strings.Repeat(" ", 1<<20)+`]}`, false), 413, nil, predict.CodeBodyTooLarge},
		{"form body", v1Event("POST", "/predict", "application/x-www-form-urlencoded", one, false), 415, nil, predict.CodeUnsupportedMedia},
		{"GET /predict", v2Event("GET", "/predict", "", "", "", false), 405, nil, predict.CodeMethod},
		{"elsewhere", v1Event("POST", "/admin/reload", "application/json", "{}", false), 404, nil, predict.CodeNotFound},
		{"health", v1Event("GET", "/health", "", "", false), 200, nil, ""},
	} {
		a, _ := call(c.ev)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		switch {
		case a.status != c.status:
			t.Errorf("%s: status %d, want %d: %.300s", c.name, a.status, c.status, a.body)
		case c.body != nil && !bytes.Equal(a.body, c.body):
			t.Errorf("%s: answer differs from the service's:\n%.300s\n%.300s", c.name, a.body, c.body)
		case c.code != "" && (json.Unmarshal(a.body, &e) != nil || e.Error.Code != c.code):
			t.Errorf("%s: %s, want error %s", c.name, a.body, c.code)
		case a.headers["Content-Type"] != "application/json":
			t.Errorf("%s: headers %v", c.name, a.headers)
		}
	}

	// Per-invocation time, client side (HTTP to the emulator + the function), sequential.
	timings := map[string][]time.Duration{}
	for _, n := range []string{"1", "100"} {
		ev := v1Event("POST", "/predict", "application/json", map[string]string{"1": one, "100": hundred}[n], false)
		for i := 0; i < 300; i++ {
			_, d := call(ev)
			timings[n] = append(timings[n], d)
		}
	}
	initMs := "?"
	if m := regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`).FindStringSubmatch(logs.String()); m != nil {
		initMs = m[1]
	}
	var fnMs []float64
	for _, m := range regexp.MustCompile(`REPORT RequestId: \S+\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: ([0-9.]+) ms`).FindAllStringSubmatch(logs.String(), -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		fnMs = append(fnMs, f)
	}
	sort.Float64s(fnMs)
	report := fmt.Sprintf("| cold start: first invocation (exec + init + invoke), client side | %.1f ms |\n", float64(cold.Microseconds())/1000) +
		fmt.Sprintf("| init (model load), emulator's INIT REPORT | %s ms |\n", initMs)
	for _, n := range []string{"1", "100"} {
		report += fmt.Sprintf("| warm invocation, %s row(s), client side p50 / p99 (300 sequential) | %.2f / %.2f ms |\n", n,
			float64(percentile(timings[n], 0.5).Microseconds())/1000, float64(percentile(timings[n], 0.99).Microseconds())/1000)
	}
	if len(fnMs) > 0 {
		report += fmt.Sprintf("| emulator's REPORT Duration, median over %d invocations | %.2f ms |\n", len(fnMs), fnMs[len(fnMs)/2])
	}
	fmt.Print("\n| Lambda under the emulator (loopback) | |\n|---|---:|\n" + report)
	if p := os.Getenv("TT_RIE_REPORT"); p != "" {
		os.WriteFile(p, []byte(report), 0o644)
	}
	for _, want := range []string{`"msg":"model loaded"`, `"input_shape":[100,117]`, `"predictions_count":100`, `"error":"body_too_large"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("function log lacks %s", want)
		}
	}
}
