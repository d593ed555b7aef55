package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quick runs f and fails the test if it does not return within d (a generous bound: only a
// hang, not slowness, should trip it).
func quick(t *testing.T, what string, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

func adminAnswerOf(t *testing.T, b []byte) adminAnswer {
	t.Helper()
	var ans adminAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatalf("not an admin answer: %v: %s", err, b)
	}
	return ans
}

func metric(t *testing.T, ta *testApp, line string) bool {
	t.Helper()
	_, m := ta.get(t, "/metrics")
	return strings.Contains(string(m), line)
}

// TestBlockingVersionFileRefused (finding 1): a FIFO where a model file should be is refused
// at once (it is never opened for a blocking read), reloads by admin and SIGHUP answer,
// nothing else waits, and goroutines do not pile up.
func TestBlockingVersionFileRefused(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	if err := os.Mkdir(filepath.Join(dir, "v20"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "v20", modelFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	code, b, _ := do(t, client, http.MethodPost, ta.adminSrv.URL+"/admin/reload", testToken, nil)
	ans := adminAnswerOf(t, b)
	if code != 409 || len(ans.Refused) != 1 || ans.Refused[0].Version != "v20" || ans.Refused[0].Reason != "not_regular_file" {
		t.Fatalf("reload with a FIFO as v20: %d %s", code, b)
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		quick(t, "SIGHUP reload", 20*time.Second, ta.reloadFromSignal)
		if code, b, _ := do(t, client, http.MethodPost, ta.adminSrv.URL+"/admin/reload", testToken,
			strings.NewReader(`{"version":"v20"}`)); code != 409 {
			t.Fatalf("reload of v20 by name: %d %s", code, b)
		}
		if code, _, _ := do(t, client, http.MethodGet, ta.srv.URL+"/v1/model", "", nil); code != 200 {
			t.Fatalf("/v1/model: %d", code)
		}
	}
	if after := runtime.NumGoroutine(); after > before+10 {
		t.Fatalf("goroutines %d -> %d after 50 reloads", before, after)
	}
	if ta.reg.Current().Version != "v1" {
		t.Fatalf("serving %s", ta.reg.Current().Version)
	}
	if n := strings.Count(ta.logs.String(), `"msg":"model version refused","version":"v20"`); n != 51 {
		// 1 automatic refusal (remembered: SIGHUPs skip it) + 50 by name (always retried)
		t.Errorf("v20 refusal logged %d times, want 51", n)
	}
}

// TestHungLoadBlocksNothing (finding 1): a load that never returns (a hung network mount)
// times out after LOAD_TIMEOUT; meanwhile /v1/model, /ready, rollback to a kept version and
// SIGHUP answer at once, further reloads say "busy" without starting goroutines, and shutdown
// finishes within SHUTDOWN_TIMEOUT.
func TestHungLoadBlocksNothing(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1"), "v2": exampleModel(t, "v2")})
	ta := newTestApp(t, testConfig(t, dir, "-load-timeout", "300ms", "-shutdown-timeout", "2s", "-drain-delay", "0"))
	if code, b := ta.admin(t, "/admin/reload", `{"version":"v1"}`); code != 200 {
		t.Fatalf("reload v1: %d %s", code, b)
	}
	publishVersion(t, dir, "v3", exampleModel(t, "v2"))
	hang := make(chan struct{})
	ta.reg.setTestHook(func(v string) {
		if v == "v3" {
			<-hang
		}
	})
	defer close(hang)
	start := time.Now()
	code, b := ta.admin(t, "/admin/unpin", "")
	if ans := adminAnswerOf(t, b); code != 504 || ans.Error == nil || ans.Error.Code != codeLoadTimeout ||
		ans.Version != "v1" || len(ans.Refused) != 1 || ans.Refused[0].Version != "v3" {
		t.Fatalf("reload into a hung load: %d %s", code, b)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("the timed-out reload took %s", d)
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		quick(t, "reload while a load hangs", 5*time.Second, func() {
			if code, b := ta.admin(t, "/admin/reload", ""); code != 409 || !strings.Contains(string(b), codeReloadBusy) {
				t.Errorf("reload while a load hangs: %d %s", code, b)
			}
		})
		quick(t, "SIGHUP while a load hangs", 5*time.Second, ta.reloadFromSignal)
		quick(t, "/v1/model while a load hangs", 5*time.Second, func() {
			if code, _ := ta.get(t, "/v1/model"); code != 200 {
				t.Errorf("/v1/model: %d", code)
			}
		})
	}
	if after := runtime.NumGoroutine(); after > before+10 {
		t.Fatalf("goroutines %d -> %d after 100 reloads during a hung load", before, after)
	}
	quick(t, "/ready", 5*time.Second, func() {
		if code, _ := ta.get(t, "/ready"); code != 200 {
			t.Errorf("/ready: %d", code)
		}
	})
	quick(t, "rollback to the kept version", 5*time.Second, func() {
		if code, b := ta.admin(t, "/admin/rollback", ""); code != 200 || ta.reg.Current().Version != "v2" {
			t.Errorf("rollback while a load hangs: %d %s", code, b)
		}
	})
	if !metric(t, ta, `thetatree_model_load_failures_total{reason="timeout"} 1`) ||
		!metric(t, ta, `thetatree_model_reloads_total{result="busy"} 100`) {
		t.Error("timeout and busy reloads not counted")
	}

	// Shutdown is bounded whatever the loader does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ta.serve(ctx, ln, nil) }()
	waitReady(t, "http://"+ln.Addr().String())
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hung behind the stuck load")
	}
}

// TestLoadAbandonedAfterTimeoutIsDiscarded: a load that finishes after its caller gave up
// does not swap (the caller was told it timed out), and its model is freed.
func TestLoadAbandonedAfterTimeoutIsDiscarded(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-load-timeout", "200ms"))
	publishVersion(t, dir, "v2", exampleModel(t, "v2"))
	release := make(chan struct{})
	ta.reg.setTestHook(func(string) { <-release })
	if code, b := ta.admin(t, "/admin/reload", ""); code != 504 {
		t.Fatalf("reload: %d %s", code, b)
	}
	close(release)
	waitFor(t, "the loader to finish", func() bool {
		select {
		case ta.reg.loading <- struct{}{}: // the token is free: take it and give it back
			<-ta.reg.loading
			return true
		default:
			return false
		}
	})
	if v := ta.reg.Current().Version; v != "v1" {
		t.Fatalf("an abandoned load swapped in %s", v)
	}
	if live := ta.reg.live.Load(); live != 1 {
		t.Fatalf("%d models loaded, want 1 (the abandoned one must be freed)", live)
	}
	ta.reg.setTestHook(nil)
	if code, b := ta.admin(t, "/admin/reload", ""); code != 200 || ta.reg.Current().Version != "v2" {
		t.Fatalf("reload after the hang cleared: %d %s", code, b)
	}
}

// TestRefusedVersionNotRetried (finding 5): one truncated version through 100 SIGHUPs is
// logged and counted once; touching it (same bytes) changes nothing; replacing it with a
// good file loads it.
func TestRefusedVersionNotRetried(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	full, err := os.ReadFile(exampleModel(t, "v2"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "m")
	os.WriteFile(truncated, full[:len(full)/2], 0o644)
	publishVersion(t, dir, "v2", truncated)
	for i := 0; i < 100; i++ {
		ta.reloadFromSignal()
	}
	if n := strings.Count(ta.logs.String(), `"msg":"model version refused"`); n != 1 {
		t.Fatalf("%d refusals logged over 100 SIGHUPs, want 1", n)
	}
	for _, want := range []string{`thetatree_model_load_failures_total{reason="truncated"} 1`,
		`thetatree_model_reloads_total{result="failure"} 1`, `thetatree_model_reloads_total{result="unchanged"} 99`} {
		if !metric(t, ta, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	res, _ := ta.reg.Reload("")
	if res.Status != "unchanged" || len(res.Skipped) != 1 || res.Skipped[0].Reason != "truncated" {
		t.Fatalf("reload of an unchanged refused version: %+v", res)
	}
	// Same bytes, new mtime: still skipped, not logged again.
	path := filepath.Join(dir, "v2", modelFileName)
	later := time.Now().Add(time.Hour)
	os.Chtimes(path, later, later)
	if res, _ := ta.reg.Reload(""); res.Status != "unchanged" || len(res.Skipped) != 1 {
		t.Fatalf("after touch: %+v", res)
	}
	if n := strings.Count(ta.logs.String(), `"msg":"model version refused"`); n != 1 {
		t.Fatalf("touching the file logged the refusal again (%d)", n)
	}
	// A changed file is tried again.
	copyFile(t, exampleModel(t, "v2"), path)
	if res, err := ta.reg.Reload(""); err != nil || res.Status != "loaded" || ta.reg.Current().Version != "v2" {
		t.Fatalf("after the fix: %+v %v", res, err)
	}
}

// TestRefusalRetriedAfterKeyChange: a version refused for its signature is tried again once
// the key file changes (key rotation).
func TestRefusalRetriedAfterKeyChange(t *testing.T) {
	key := writeKey(t, "old key for the test")
	dir := modelDir(t, map[string]string{"v1": signedCopy(t, exampleModel(t, "v1"), key)})
	ta := newTestApp(t, testConfig(t, dir, "-key-file", key))
	newKey := writeKey(t, "new key for the test")
	publishVersion(t, dir, "v2", signedCopy(t, exampleModel(t, "v2"), newKey))
	if res, _ := ta.reg.Reload(""); res.Status != "refused" || res.Refused[0].Reason != "key_mismatch" {
		t.Fatalf("v2 signed with another key: %+v", res)
	}
	if res, _ := ta.reg.Reload(""); res.Status != "unchanged" {
		t.Fatalf("second reload: %+v", res)
	}
	copyFile(t, newKey, key)
	if res, err := ta.reg.Reload(""); err != nil || res.Status != "loaded" {
		t.Fatalf("after the key rotation: %+v %v", res, err)
	}
}

// TestAdminMistakesNotCounted (finding 5): an unknown or invalid version name is a 4xx and
// no reload failure.
func TestAdminMistakesNotCounted(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"version":"v9"}`, 404, codeUnknownVersion},
		{`{"version":"../v1"}`, 400, codeInvalidVersion},
		{`{"version":".hidden"}`, 400, codeInvalidVersion},
	} {
		code, b := ta.admin(t, "/admin/reload", c.body)
		if ans := adminAnswerOf(t, b); code != c.status || ans.Error == nil || ans.Error.Code != c.code || ans.Version != "v1" {
			t.Errorf("%s: %d %s", c.body, code, b)
		}
	}
	if !metric(t, ta, `thetatree_model_reloads_total{result="failure"} 0`) {
		t.Error("admin mistakes counted as reload failures")
	}
}

// TestPinByNameHoldsAcrossSIGHUP (finding 5): a downgrade by name stays until unpinned.
func TestPinByNameHoldsAcrossSIGHUP(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1"), "v2": exampleModel(t, "v2")})
	ta := newTestApp(t, testConfig(t, dir))
	code, b := ta.admin(t, "/admin/reload", `{"version":"v1"}`)
	if ans := adminAnswerOf(t, b); code != 200 || ans.Version != "v1" || ans.Pinned != "v1" {
		t.Fatalf("downgrade by name: %d %s", code, b)
	}
	publishVersion(t, dir, "v3", exampleModel(t, "v2"))
	for i := 0; i < 3; i++ {
		ta.reloadFromSignal()
		if v := ta.reg.Current().Version; v != "v1" {
			t.Fatalf("SIGHUP %d undid the pin: serving %s", i, v)
		}
	}
	if _, b := ta.get(t, "/v1/model"); !strings.Contains(string(b), `"pinned_version":"v1"`) {
		t.Fatalf("/v1/model does not show the pin: %s", b)
	}
	// Naming the served version pins it too.
	code, b = ta.admin(t, "/admin/unpin", "")
	if ans := adminAnswerOf(t, b); code != 200 || ans.Version != "v3" || ans.Pinned != "" {
		t.Fatalf("unpin: %d %s", code, b)
	}
	if code, b := ta.admin(t, "/admin/reload", `{"version":"v3"}`); code != 200 || adminAnswerOf(t, b).Pinned != "v3" {
		t.Fatalf("pinning the served version: %d %s", code, b)
	}
	publishVersion(t, dir, "v4", exampleModel(t, "v1"))
	if ta.reloadFromSignal(); ta.reg.Current().Version != "v3" {
		t.Fatalf("SIGHUP moved off the pinned v3 to %s", ta.reg.Current().Version)
	}
	// A rollback moves the pin to the version rolled back to.
	if code, b := ta.admin(t, "/admin/rollback", ""); code != 200 || adminAnswerOf(t, b).Pinned != "v1" {
		t.Fatalf("rollback while pinned: %d %s", code, b)
	}
}

// TestSymlinksOutOfModelDir (finding 5): a version directory or model file that is a symlink
// leading out of MODEL_DIR is refused unless FOLLOW_EXTERNAL_SYMLINKS; symlinks within the
// directory are fine.
func TestSymlinksOutOfModelDir(t *testing.T) {
	outside := modelDir(t, map[string]string{"x": exampleModel(t, "v2")})
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	os.Symlink(filepath.Join(outside, "x"), filepath.Join(dir, "v9"))
	code, b := ta.admin(t, "/admin/reload", "")
	if ans := adminAnswerOf(t, b); code != 409 || len(ans.Refused) != 1 || ans.Refused[0].Reason != "outside_model_dir" {
		t.Fatalf("version directory symlinked out: %d %s", code, b)
	}
	os.Remove(filepath.Join(dir, "v9"))
	os.Mkdir(filepath.Join(dir, "v8"), 0o755)
	os.Symlink(filepath.Join(outside, "x", modelFileName), filepath.Join(dir, "v8", modelFileName))
	code, b = ta.admin(t, "/admin/reload", "")
	if ans := adminAnswerOf(t, b); code != 409 || len(ans.Refused) != 1 || ans.Refused[0].Version != "v8" ||
		ans.Refused[0].Reason != "outside_model_dir" {
		t.Fatalf("model file symlinked out: %d %s", code, b)
	}
	os.RemoveAll(filepath.Join(dir, "v8"))
	os.Symlink("v1", filepath.Join(dir, "v7")) // relative, inside
	if code, b := ta.admin(t, "/admin/reload", ""); code != 200 || ta.reg.Current().Version != "v7" {
		t.Fatalf("symlink inside the directory: %d %s", code, b)
	}
	os.Symlink(filepath.Join(outside, "x"), filepath.Join(dir, "v9"))
	tb := newTestApp(t, testConfig(t, dir, "-follow-external-symlinks"))
	if v := tb.reg.Current().Version; v != "v9" {
		t.Fatalf("with -follow-external-symlinks serving %s, want v9", v)
	}
}

// TestOddDirectoryEntriesWarned (finding 5): entries that cannot be versions are logged once
// each, not skipped silently; hidden (staging) names stay silent.
func TestOddDirectoryEntriesWarned(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	for _, n := range []string{"v 7", `v"8`, ".v9.tmp"} {
		os.Mkdir(filepath.Join(dir, n), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "README"), []byte("notes"), 0o644)
	ta := newTestApp(t, testConfig(t, dir))
	ta.reloadFromSignal()
	ta.reloadFromSignal()
	logs := ta.logs.String()
	for _, n := range []string{`v 7`, `v\\\"8`, `README`} {
		if c := strings.Count(logs, `"entry":"\"`+n+`\""`); c != 1 {
			t.Errorf("entry %s warned %d times, want once:\n%s", n, c, logs)
		}
	}
	if strings.Contains(logs, ".v9.tmp") {
		t.Error("a staging directory was warned about")
	}
}

// TestSlowLoadStillAnswers: an admin request waiting longer than BODY_READ_TIMEOUT for a
// load gets its answer (the body deadline ends once the body is read).
func TestSlowLoadStillAnswers(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-body-read-timeout", "300ms"))
	publishVersion(t, dir, "v2", exampleModel(t, "v2"))
	publishVersion(t, dir, "v3", exampleModel(t, "v1"))
	ta.reg.setTestHook(func(string) { time.Sleep(time.Second) })
	if code, b := ta.admin(t, "/admin/reload", `{"version":"v2"}`); code != 200 || ta.reg.Current().Version != "v2" {
		t.Fatalf("reload by name slower than the body timeout: %d %s", code, b)
	}
	if code, b := ta.admin(t, "/admin/unpin", ""); code != 200 || ta.reg.Current().Version != "v3" {
		t.Fatalf("unpin slower than the body timeout: %d %s", code, b)
	}
}
