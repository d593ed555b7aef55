package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// Test inputs:
//   - the bundled example models example/models/v1 and v2 (two different mushroom trees with
//     the same 117 features; rebuild them with example/regen.sh after a format change);
//   - the thetatree CLI, <repo>/target/release/thetatree (built by cargo build --release,
//     which the binding needs anyway), to sign models;
//   - the reference golden data, $TT_REFERENCE_DIR or the fixtures bundled in
//     <repo>/tests/data/reference (large CSVs gzipped there), for the parity test.

const testToken = "test-admin-token"

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func referenceDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("TT_REFERENCE_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(t), "tests", "data", "reference")
}

// openReference opens reference file rel (slash-separated) by its plain name: the file itself,
// or, when only rel.gz exists (as in the bundled fixtures), its decompressed stream. The
// binding's tests use the same rule (bindings/go/internal/refdata, not importable from here).
func openReference(t testing.TB, rel string) io.Reader {
	t.Helper()
	path := filepath.Join(referenceDir(t), filepath.FromSlash(rel))
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if g, gzErr := os.Open(path + ".gz"); gzErr == nil {
			t.Cleanup(func() { g.Close() })
			z, err := gzip.NewReader(g)
			if err != nil {
				t.Fatalf("%s.gz: %v", path, err)
			}
			return z
		}
	}
	if err != nil {
		t.Fatalf("reference file %s (nor .gz): %v (TT_REFERENCE_DIR overrides tests/data/reference)", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func cliPath(t testing.TB) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "target", "release", "thetatree")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the thetatree CLI is missing (%v): run cargo build --release in the repository root", err)
	}
	return p
}

// exampleModel is the bundled model file of version v ("v1" or "v2").
func exampleModel(t testing.TB, v string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("example", "models", v, modelFileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("bundled example model missing: %v", err)
	}
	return p
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// publishVersion installs src as <dir>/<version>/model.ttm the way operators should: stage
// under a hidden name, then rename (atomic for readers of the directory).
func publishVersion(t testing.TB, dir, version, src string) {
	t.Helper()
	stage := filepath.Join(dir, "."+version+".tmp")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, src, filepath.Join(stage, modelFileName))
	if err := os.Rename(stage, filepath.Join(dir, version)); err != nil {
		t.Fatal(err)
	}
}

// modelDir makes a temporary model directory with the given version -> source file entries.
func modelDir(t testing.TB, versions map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for v, src := range versions {
		publishVersion(t, dir, v, src)
	}
	return dir
}

// corruptCopy writes a copy of src with one byte flipped in the middle (CRC mismatch).
func corruptCopy(t testing.TB, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	p := filepath.Join(t.TempDir(), "corrupt.ttm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeKey(t testing.TB, key string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.key")
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signedCopy signs src with the key file through the CLI and returns the signed file.
func signedCopy(t testing.TB, src, keyFile string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "signed.ttm")
	cmd := exec.Command(cliPath(t), "sign", "--key-file", keyFile, src, "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("thetatree sign: %v\n%s", err, b)
	}
	return out
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

// testConfig parses a configuration as the command line would, plus extra flags.
func testConfig(t testing.TB, dir string, extra ...string) *Config {
	t.Helper()
	args := append([]string{"-model-dir", dir, "-admin-token", testToken, "-access-log=false", "-host", "127.0.0.1"}, extra...)
	cfg, err := parseConfig(args, noEnv, io.Discard)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	return cfg
}

type testApp struct {
	*app
	srv      *httptest.Server // the public port
	adminSrv *httptest.Server // the admin listener
	logs     *syncBuffer
}

func newTestApp(t testing.TB, cfg *Config) *testApp {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := newApp(cfg, log)
	if err != nil {
		t.Fatalf("newApp: %v\nlogs:\n%s", err, logs.String())
	}
	srv := httptest.NewServer(a.publicHandler())
	adminSrv := httptest.NewServer(a.adminHandler())
	t.Cleanup(func() {
		srv.Close()
		adminSrv.Close()
		a.reg.Close()
	})
	return &testApp{app: a, srv: srv, adminSrv: adminSrv, logs: logs}
}

type predictResponse struct {
	Predictions   []int32      `json:"predictions"`
	Probabilities [][2]float64 `json:"probabilities"`
	ModelVersion  string       `json:"model_version"`
	ModelDigest   string       `json:"model_digest"`
}

type errorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Row     *int   `json:"row"`
		Column  *int   `json:"column"`
		Feature string `json:"feature"`
		Offset  *int   `json:"offset"`
	} `json:"error"`
}

func do(t testing.TB, client *http.Client, method, url, token string, body io.Reader) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, b, resp.Header
}

func (ta *testApp) post(t testing.TB, path, body string) (int, []byte) {
	t.Helper()
	code, b, _ := do(t, ta.srv.Client(), http.MethodPost, ta.srv.URL+path, "", strings.NewReader(body))
	return code, b
}

func (ta *testApp) admin(t testing.TB, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	code, b, _ := do(t, ta.adminSrv.Client(), http.MethodPost, ta.adminSrv.URL+path, testToken, r)
	return code, b
}

func (ta *testApp) get(t testing.TB, path string) (int, []byte) {
	t.Helper()
	code, b, _ := do(t, ta.srv.Client(), http.MethodGet, ta.srv.URL+path, "", nil)
	return code, b
}

func decodePredict(t testing.TB, b []byte) predictResponse {
	t.Helper()
	var r predictResponse
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decoding /predict answer: %v\n%s", err, b)
	}
	return r
}

func decodeError(t testing.TB, b []byte) errorResponse {
	t.Helper()
	var r errorResponse
	if err := json.Unmarshal(b, &r); err != nil || r.Error.Code == "" {
		t.Fatalf("not an error answer (%v): %s", err, b)
	}
	return r
}

// rowsJSON renders int8 rows as a "features" body (-1 as null when nullMissing).
func featuresBody(rows [][]int8, nullMissing bool) string {
	var b strings.Builder
	b.WriteString(`{"features":[`)
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j, v := range r {
			if j > 0 {
				b.WriteByte(',')
			}
			switch {
			case v == -1 && nullMissing:
				b.WriteString("null")
			case v == -1:
				b.WriteString("-1")
			case v == 1:
				b.WriteByte('1')
			default:
				b.WriteByte('0')
			}
		}
		b.WriteByte(']')
	}
	b.WriteString("]}")
	return b.String()
}

// libraryPredict computes the expected answer with the binding directly.
func libraryPredict(t testing.TB, path string, rows [][]int8) ([]int32, []float64) {
	t.Helper()
	m, err := thetatree.Load(path, thetatree.WithCopy())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n := len(rows)
	x := make([]int8, 0, n*m.NFeatures())
	for _, r := range rows {
		x = append(x, r...)
	}
	labels := make([]int32, n)
	proba := make([]float64, 2*n)
	if err := m.PredictInto(x, n, labels); err != nil {
		t.Fatal(err)
	}
	if err := m.PredictProbaInto(x, n, proba); err != nil {
		t.Fatal(err)
	}
	return labels, proba
}
