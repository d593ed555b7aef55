package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// TestPredictMatchesLibraryBitForBit: by-column and by-name requests give the library's
// labels and probabilities exactly (compared as float64 bits after a JSON round trip).
func TestPredictMatchesLibraryBitForBit(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	s := ta.reg.Current()
	rng := rand.New(rand.NewSource(7))
	rows := make([][]int8, 300)
	for i := range rows {
		rows[i] = make([]int8, s.NFeatures)
		for j := range rows[i] {
			rows[i][j] = int8(rng.Intn(3) - 1)
		}
	}
	wantL, wantP := libraryPredict(t, exampleModel(t, "v1"), rows)
	check := func(name string, got predictResponse) {
		t.Helper()
		if got.ModelVersion != "v1" || got.ModelDigest != s.Digest {
			t.Fatalf("%s: version %q digest %q", name, got.ModelVersion, got.ModelDigest)
		}
		if len(got.Predictions) != len(rows) || len(got.Probabilities) != len(rows) {
			t.Fatalf("%s: %d predictions, %d probabilities for %d rows", name, len(got.Predictions), len(got.Probabilities), len(rows))
		}
		for i := range rows {
			if got.Predictions[i] != wantL[i] {
				t.Fatalf("%s row %d: label %d, library %d", name, i, got.Predictions[i], wantL[i])
			}
			for k := 0; k < 2; k++ {
				if math.Float64bits(got.Probabilities[i][k]) != math.Float64bits(wantP[2*i+k]) {
					t.Fatalf("%s row %d: p%d %v, library %v", name, i, k, got.Probabilities[i][k], wantP[2*i+k])
				}
			}
		}
	}
	check("features/-1", decodePredict(t, mustOK(t, ta, featuresBody(rows, false))))
	check("features/null", decodePredict(t, mustOK(t, ta, featuresBody(rows, true))))
	var b strings.Builder
	b.WriteString(`{"instances":[`)
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		first := true
		for j, v := range r {
			if v == 0 && j%3 != 0 { // mostly absent, some explicit zeros
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			val := map[int8]string{0: "0", 1: "1", -1: "null"}[v]
			b.WriteString(strconv.Quote(s.FeatureNames[j]) + ":" + val)
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	check("instances", decodePredict(t, mustOK(t, ta, b.String())))
}

// TestPredictGoldenParity: all 8124 mushroom rows, clean and with missing cells, through the
// HTTP API, against the Python reference's golden outputs (labels and bit-exact p0/p1).
func TestPredictGoldenParity(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")}) // compiled from mushroom_gini_d5_lgk12
	ta := newTestApp(t, testConfig(t, dir, "-max-body-bytes", "8388608"))
	for _, tc := range []struct{ input, golden string }{
		{"inputs/mushroom_X.csv", "golden/mushroom_gini_d5_lgk12__X.csv"},
		{"inputs/mushroom_X_missing.csv", "golden/mushroom_gini_d5_lgk12__X_missing.csv"},
	} {
		header, rows := readCSV(t, tc.input)
		_, golden := readCSV(t, tc.golden)
		if len(rows) != len(golden) {
			t.Fatalf("%s: %d rows, golden %d", tc.input, len(rows), len(golden))
		}
		if got := ta.reg.Current().FeatureNames; strings.Join(header[1:], ",") != strings.Join(got, ",") {
			t.Fatalf("%s: columns differ from the model's features", tc.input)
		}
		const batch = 2000
		for lo := 0; lo < len(rows); lo += batch {
			hi := min(lo+batch, len(rows))
			var b strings.Builder
			b.WriteString(`{"features":[`)
			for i := lo; i < hi; i++ {
				if i > lo {
					b.WriteByte(',')
				}
				cells := rows[i][1:]
				b.WriteByte('[')
				for j, c := range cells {
					if j > 0 {
						b.WriteByte(',')
					}
					if c == "" {
						c = "null"
					}
					b.WriteString(c)
				}
				b.WriteByte(']')
			}
			b.WriteString("]}")
			got := decodePredict(t, mustOK(t, ta, b.String()))
			for i := lo; i < hi; i++ {
				g := golden[i] // row,y_true,pred,p0,p1,leaf_preorder
				pred, _ := strconv.Atoi(g[2])
				p0, _ := strconv.ParseFloat(g[3], 64)
				p1, _ := strconv.ParseFloat(g[4], 64)
				r := got.Probabilities[i-lo]
				if int(got.Predictions[i-lo]) != pred || math.Float64bits(r[0]) != math.Float64bits(p0) ||
					math.Float64bits(r[1]) != math.Float64bits(p1) {
					t.Fatalf("%s row %d: got %d %v, reference %d [%v %v]", tc.input, i, got.Predictions[i-lo], r, pred, p0, p1)
				}
			}
		}
	}
}

// readCSV reads reference file rel (plain or gzipped): its header and its rows.
func readCSV(t testing.TB, rel string) ([]string, [][]string) {
	t.Helper()
	sc := bufio.NewScanner(openReference(t, rel))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var header []string
	var rows [][]string
	for sc.Scan() {
		cols := strings.Split(strings.TrimRight(sc.Text(), "\r"), ",")
		if header == nil {
			header = cols
			continue
		}
		rows = append(rows, cols)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return header, rows
}

// TestEndpoints covers /health, /ready, /v1/model, /metrics, 404 and 405.
func TestEndpoints(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1"), "v2": exampleModel(t, "v2")})
	ta := newTestApp(t, testConfig(t, dir))
	cur := ta.reg.Current()
	if cur.Version != "v2" {
		t.Fatalf("serving %s, want the newest (v2)", cur.Version)
	}

	code, b := ta.get(t, "/health")
	var health map[string]any
	if code != 200 || json.Unmarshal(b, &health) != nil || health["status"] != "healthy" || health["model_loaded"] != true ||
		health["model_version"] != "v2" {
		t.Fatalf("/health: %d %s", code, b)
	}
	code, b = ta.get(t, "/ready")
	var ready map[string]any
	if code != 200 || json.Unmarshal(b, &ready) != nil || ready["status"] != "ready" || ready["model_version"] != "v2" {
		t.Fatalf("/ready: %d %s", code, b)
	}

	code, b = ta.get(t, "/v1/model")
	var info modelInfo
	if code != 200 || json.Unmarshal(b, &info) != nil {
		t.Fatalf("/v1/model: %d %s", code, b)
	}
	if info.Version != "v2" || info.EmbeddedVersion != "mushroom_entropy_d8_lgk14" || info.Digest != cur.Digest ||
		len(info.Digest) != 64 || info.NFeatures != 117 || len(info.Features) != 117 || info.Features[0] != cur.FeatureNames[0] ||
		fmt.Sprint(info.Classes) != "[poisonous edible]" || info.LoadedAt.IsZero() || time.Since(info.LoadedAt) > time.Minute ||
		info.Signed || info.Verified || len(info.Metadata) == 0 || info.LibraryVersion == "" {
		t.Fatalf("/v1/model: %+v", info)
	}

	decodePredict(t, mustOK(t, ta, `{"instances":[{"odor=n":1},{}]}`))
	ta.post(t, "/predict", `{"features":[[0]]}`)
	code, b = ta.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`thetatree_model_info{digest="` + cur.Digest + `",embedded_version="mushroom_entropy_d8_lgk14",signed="false",verified="false",version="v2"} 1`,
		`thetatree_http_requests_total{code="200",handler="predict"} 1`,
		`thetatree_http_requests_total{code="400",handler="predict"} 1`,
		`thetatree_http_requests_total{code="200",handler="ready"} 1`,
		`thetatree_http_request_duration_seconds_bucket{handler="predict",le="+Inf"} 2`,
		`thetatree_predict_rows_total 2`,
		`thetatree_predict_rejected_total{code="wrong_width"} 1`,
		`thetatree_model_reloads_total{result="success"} 1`,
		`thetatree_model_reloads_total{result="failure"} 0`,
		`thetatree_model_rollbacks_total{result="success"} 0`,
		`thetatree_model_loaded_timestamp_seconds `,
		`go_goroutines `,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/predict", 405, predict.CodeMethod},
		{http.MethodPut, "/predict", 405, predict.CodeMethod},
		{http.MethodPost, "/health", 405, predict.CodeMethod},
		{http.MethodPost, "/admin/reload", 404, predict.CodeNotFound}, // admin is on its own listener
		{http.MethodGet, "//predict", 404, predict.CodeNotFound},      // no 307 to /predict
		{http.MethodPost, "/predict/", 404, predict.CodeNotFound},
		{http.MethodGet, "/nope", 404, predict.CodeNotFound},
		{http.MethodGet, "/", 404, predict.CodeNotFound},
	} {
		code, b, h := do(t, ta.srv.Client(), c.method, ta.srv.URL+c.path, "", nil)
		if code != c.status || decodeError(t, b).Error.Code != c.code || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, b)
		}
	}
	code, b, _ = do(t, ta.adminSrv.Client(), http.MethodGet, ta.adminSrv.URL+"/admin/reload", "", nil)
	if code != 405 || decodeError(t, b).Error.Code != predict.CodeMethod {
		t.Errorf("GET /admin/reload on the admin listener: %d %s", code, b)
	}
	code, _, h := do(t, ta.srv.Client(), http.MethodHead, ta.srv.URL+"/health", "", nil)
	if code != 200 || h.Get("X-Request-Id") == "" {
		t.Errorf("HEAD /health: %d, request id %q", code, h.Get("X-Request-Id"))
	}
}

// TestAdminAuth: admin endpoints need the bearer token and are off without one; failed
// tokens are rate-limited per client (429 + Retry-After, even for the right token) and every
// failure is logged although the access log is off.
func TestAdminAuth(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir)) // -access-log=false
	tokens := []string{"", "wrong", testToken + "x", strings.ToUpper(testToken), "Bearer"}
	for i, tok := range tokens {
		path := []string{"/admin/reload", "/admin/rollback", "/admin/unpin"}[i%3]
		code, b, h := do(t, ta.adminSrv.Client(), http.MethodPost, ta.adminSrv.URL+path, tok, nil)
		if code != 401 || decodeError(t, b).Error.Code != codeUnauthorized || h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s with token %q: %d %s", path, tok, code, b)
		}
	}
	for _, tok := range []string{"guess", testToken} {
		code, b, h := do(t, ta.adminSrv.Client(), http.MethodPost, ta.adminSrv.URL+"/admin/reload", tok, nil)
		if code != 429 || decodeError(t, b).Error.Code != codeAuthLimited || h.Get("Retry-After") == "" {
			t.Errorf("attempt past the burst with token %q: %d %s (Retry-After %q)", tok, code, b, h.Get("Retry-After"))
		}
	}
	logs := ta.logs.String()
	if n := strings.Count(logs, `"msg":"admin authentication failed"`); n != len(tokens) {
		t.Errorf("%d failed tokens logged, want %d:\n%s", n, len(tokens), logs)
	}
	if n := strings.Count(logs, `"msg":"admin authentication rate limited"`); n != 1 {
		t.Errorf("rate limiting logged %d times, want once", n)
	}
	_, m := ta.get(t, "/metrics")
	for _, want := range []string{`thetatree_admin_auth_failures_total{result="wrong_token"} 4`,
		`thetatree_admin_auth_failures_total{result="missing_token"} 1`, `thetatree_admin_auth_failures_total{result="rate_limited"} 2`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	ta.auth = newAuthLimiter(authBurst, authRefill) // as after the refill time
	code, b := ta.admin(t, "/admin/reload", "")
	if code != 200 || !strings.Contains(string(b), `"status":"unchanged"`) {
		t.Fatalf("authorised reload: %d %s", code, b)
	}
	code, b = ta.admin(t, "/admin/reload", `{"versio":"v1"}`)
	if code != 400 {
		t.Fatalf("reload with a bad body: %d %s", code, b)
	}

	cfg := testConfig(t, dir)
	cfg.AdminToken = ""
	off := newTestApp(t, cfg)
	code, b, _ = do(t, off.adminSrv.Client(), http.MethodPost, off.adminSrv.URL+"/admin/rollback", "", nil)
	if code != 403 || decodeError(t, b).Error.Code != codeAdminDisabled {
		t.Fatalf("admin without a configured token: %d %s", code, b)
	}
}

// TestReloadNewVersionAndRefuseBadOnes: a new version is picked up; a corrupt one is refused
// while the old one keeps serving, and the refusal is logged and counted.
func TestReloadNewVersionAndRefuseBadOnes(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	publishVersion(t, dir, "v2", exampleModel(t, "v2"))
	code, b := ta.admin(t, "/admin/reload", "")
	if code != 200 || !strings.Contains(string(b), `"status":"loaded"`) || ta.reg.Current().Version != "v2" {
		t.Fatalf("reload: %d %s", code, b)
	}
	if got := decodePredict(t, mustOK(t, ta, `{"instances":[{}]}`)).ModelVersion; got != "v2" {
		t.Fatalf("answer from %s", got)
	}

	for _, bad := range []struct{ version, reason string }{
		{"v3", "checksum"},
		{"v4", "truncated"},
		{"v5", "bad_magic"},
		{"v6", "missing_file"}, // no model.ttm in the directory
	} {
		switch bad.version {
		case "v3":
			publishVersion(t, dir, "v3", corruptCopy(t, exampleModel(t, "v2")))
		case "v4":
			full, _ := os.ReadFile(exampleModel(t, "v2"))
			p := filepath.Join(t.TempDir(), "m")
			os.WriteFile(p, full[:100], 0o644)
			publishVersion(t, dir, "v4", p)
		case "v5":
			p := filepath.Join(t.TempDir(), "m")
			os.WriteFile(p, []byte(strings.Repeat("not a model ", 100)), 0o644)
			publishVersion(t, dir, "v5", p)
		case "v6":
			os.Mkdir(filepath.Join(dir, "v6"), 0o755)
		}
		code, b := ta.admin(t, "/admin/reload", "")
		var ans adminAnswer
		if err := json.Unmarshal(b, &ans); err != nil || code != 409 || ans.Status != "refused" || ans.Version != "v2" ||
			ans.Error == nil || ans.Error.Code != codeReloadRefused {
			t.Fatalf("reload with bad %s: %d %s", bad.version, code, b)
		}
		// Only the new bad version is tried; the earlier ones are unchanged, so skipped.
		if len(ans.Refused) != 1 || ans.Refused[0].Version != bad.version || ans.Refused[0].Reason != bad.reason {
			t.Fatalf("reload with bad %s: refused %+v", bad.version, ans.Refused)
		}
		if len(ans.Skipped) != int(bad.version[1]-'3') { // v3: none, v4: v3, ...
			t.Fatalf("reload with bad %s: skipped %+v", bad.version, ans.Skipped)
		}
		if ta.reg.Current().Version != "v2" {
			t.Fatalf("serving %s after a refused reload", ta.reg.Current().Version)
		}
		if got := decodePredict(t, mustOK(t, ta, `{"instances":[{}]}`)).ModelVersion; got != "v2" {
			t.Fatalf("answer from %s", got)
		}
	}
	if !strings.Contains(ta.logs.String(), `"msg":"model version refused","version":"v3","reason":"checksum"`) {
		t.Errorf("refusal not logged:\n%s", ta.logs.String())
	}
	_, m := ta.get(t, "/metrics")
	for _, want := range []string{
		`thetatree_model_load_failures_total{reason="checksum"} 1`, // each refused once, never retried
		`thetatree_model_load_failures_total{reason="bad_magic"} 1`,
		`thetatree_model_load_failures_total{reason="missing_file"} 1`,
		`thetatree_model_reloads_total{result="failure"} 4`,
		`thetatree_model_reloads_total{result="success"} 2`,
		`version="v2"} 1`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A good newer version beyond the bad ones is taken.
	publishVersion(t, dir, "v10", exampleModel(t, "v1"))
	code, b = ta.admin(t, "/admin/reload", "")
	if code != 200 || ta.reg.Current().Version != "v10" {
		t.Fatalf("reload to v10: %d %s", code, b)
	}
	// Hidden (staging) directories are never considered.
	publishVersion(t, dir, "v11", exampleModel(t, "v2"))
	os.Rename(filepath.Join(dir, "v11"), filepath.Join(dir, ".v11.tmp"))
	if res, _ := ta.reg.Reload(""); res.Status != "unchanged" {
		t.Fatalf("staging dir picked up: %+v", res)
	}
}

// TestSignedModels: with a key file every version must carry a valid signature for that key.
func TestSignedModels(t *testing.T) {
	key := writeKey(t, "correct horse battery staple")
	other := writeKey(t, "another key")
	v1 := signedCopy(t, exampleModel(t, "v1"), key)
	dir := modelDir(t, map[string]string{"v1": v1})
	ta := newTestApp(t, testConfig(t, dir, "-key-file", key))
	if s := ta.reg.Current(); !s.signed || !s.verified {
		t.Fatalf("signed %v verified %v", s.signed, s.verified)
	}
	tampered := func() string {
		b, _ := os.ReadFile(signedCopy(t, exampleModel(t, "v2"), key))
		b[200] ^= 1
		p := filepath.Join(t.TempDir(), "t.ttm")
		os.WriteFile(p, b, 0o644)
		return p
	}
	for _, c := range []struct{ version, file, reason string }{
		{"v2", exampleModel(t, "v2"), "unsigned"},
		{"v3", signedCopy(t, exampleModel(t, "v2"), other), "key_mismatch"},
		{"v4", tampered(), "bad_signature"},
	} {
		publishVersion(t, dir, c.version, c.file)
		code, b := ta.admin(t, "/admin/reload", "")
		var ans adminAnswer
		json.Unmarshal(b, &ans)
		if code != 409 || len(ans.Refused) == 0 || ans.Refused[0].Reason != c.reason || ta.reg.Current().Version != "v1" {
			t.Fatalf("%s (%s): %d %s", c.version, c.reason, code, b)
		}
		if got := decodePredict(t, mustOK(t, ta, `{"instances":[{}]}`)).ModelVersion; got != "v1" {
			t.Fatalf("answer from %s", got)
		}
	}
	_, m := ta.get(t, "/metrics")
	for _, want := range []string{`reason="unsigned"}`, `reason="key_mismatch"}`, `reason="bad_signature"} 1`, `signed="true",verified="true",version="v1"} 1`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	publishVersion(t, dir, "v5", signedCopy(t, exampleModel(t, "v2"), key))
	if code, b := ta.admin(t, "/admin/reload", ""); code != 200 || ta.reg.Current().Version != "v5" {
		t.Fatalf("signed v5: %d %s", code, b)
	}

	// A missing key file refuses the reload too, and the current version keeps serving.
	publishVersion(t, dir, "v6", signedCopy(t, exampleModel(t, "v1"), key))
	os.Rename(key, key+".moved")
	code, b := ta.admin(t, "/admin/reload", "")
	if code != 409 || !strings.Contains(string(b), `"reason":"key_file"`) || ta.reg.Current().Version != "v5" {
		t.Fatalf("reload without the key file: %d %s", code, b)
	}
	os.Rename(key+".moved", key)

	// Startup refuses to serve when no version verifies.
	dir2 := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	if _, err := newApp(testConfig(t, dir2, "-key-file", key), ta.log); err == nil {
		t.Fatal("started with only an unsigned model and a key")
	}
}

// TestStartupPicksNewestValid: at startup the newest version that loads is served.
func TestStartupPicksNewestValid(t *testing.T) {
	dir := modelDir(t, map[string]string{
		"v1": exampleModel(t, "v1"), "v9": exampleModel(t, "v2"), "v10": corruptCopy(t, exampleModel(t, "v2")),
	})
	ta := newTestApp(t, testConfig(t, dir))
	if v := ta.reg.Current().Version; v != "v9" {
		t.Fatalf("serving %s, want v9 (v10 is corrupt)", v)
	}
	if _, err := newApp(testConfig(t, t.TempDir()), ta.log); err == nil {
		t.Fatal("started with an empty model directory")
	}
	if _, err := newApp(testConfig(t, filepath.Join(dir, "missing")), ta.log); err == nil {
		t.Fatal("started with a missing model directory")
	}
}

// TestRollback: rollback returns to the previous version at once, and automatic reloads do
// not bring back the version rolled back from.
func TestRollback(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	if code, b := ta.admin(t, "/admin/rollback", ""); code != 409 || !strings.Contains(string(b), codeRollbackRefused) {
		t.Fatalf("rollback with nothing to go back to: %d %s", code, b)
	}
	publishVersion(t, dir, "v2", exampleModel(t, "v2"))
	ta.admin(t, "/admin/reload", "")
	v1Digest := ""
	if h := ta.reg.History(); len(h) != 1 || h[0] != "v1" {
		t.Fatalf("history %v", h)
	}
	code, b := ta.admin(t, "/admin/rollback", "")
	if code != 200 || !strings.Contains(string(b), `"status":"rolled_back","version":"v1"`) || !strings.Contains(string(b), `"previous":"v2"`) {
		t.Fatalf("rollback: %d %s", code, b)
	}
	v1Digest = ta.reg.Current().Digest
	got := decodePredict(t, mustOK(t, ta, `{"instances":[{}]}`))
	if got.ModelVersion != "v1" || got.ModelDigest != v1Digest {
		t.Fatalf("after rollback: %+v", got)
	}
	// SIGHUP/automatic reload stays on v1; naming v2 explicitly brings it back.
	if res, err := ta.reg.Reload(""); err != nil || res.Status != "unchanged" || ta.reg.Current().Version != "v1" {
		t.Fatalf("automatic reload after rollback: %+v %v", res, err)
	}
	if code, b := ta.admin(t, "/admin/reload", `{"version":"v2"}`); code != 200 || ta.reg.Current().Version != "v2" {
		t.Fatalf("explicit reload of v2: %d %s", code, b)
	}
	if code, b := ta.admin(t, "/admin/reload", `{"version":"nope"}`); code != 404 {
		t.Fatalf("explicit reload of a missing version: %d %s", code, b)
	}
	if code, b := ta.admin(t, "/admin/reload", `{"version":"../v1"}`); code != 400 {
		t.Fatalf("explicit reload of a path: %d %s", code, b)
	}
	_, m := ta.get(t, "/metrics")
	if !strings.Contains(string(m), `thetatree_model_rollbacks_total{result="success"} 1`) ||
		!strings.Contains(string(m), `thetatree_model_rollbacks_total{result="failure"} 1`) {
		t.Errorf("rollback metrics:\n%s", m)
	}

	// Without a kept previous model, rollback loads the next older version from disk.
	dir2 := modelDir(t, map[string]string{"v1": exampleModel(t, "v1"), "v2": exampleModel(t, "v2"), "v3": exampleModel(t, "v1")})
	tb := newTestApp(t, testConfig(t, dir2, "-keep-versions", "0"))
	publishVersion(t, dir2, "v0", exampleModel(t, "v2"))
	for _, want := range []string{"v2", "v1", "v0"} {
		if code, b := tb.admin(t, "/admin/rollback", ""); code != 200 || tb.reg.Current().Version != want {
			t.Fatalf("rollback to %s: %d %s", want, code, b)
		}
	}
	if code, _ := tb.admin(t, "/admin/rollback", ""); code != 409 || tb.reg.Current().Version != "v0" {
		t.Fatalf("rollback past the oldest version: %d", code)
	}
}

// TestPinnedVersion: a pinned version is served even when newer ones exist.
func TestPinnedVersion(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1"), "v2": exampleModel(t, "v2")})
	ta := newTestApp(t, testConfig(t, dir, "-pin-version", "v1"))
	if ta.reg.Current().Version != "v1" {
		t.Fatalf("serving %s", ta.reg.Current().Version)
	}
	publishVersion(t, dir, "v3", exampleModel(t, "v2"))
	if res, err := ta.reg.Reload(""); err != nil || res.Status != "unchanged" || ta.reg.Current().Version != "v1" {
		t.Fatalf("reload with a pin: %+v %v", res, err)
	}
	code, b := ta.get(t, "/v1/model")
	if code != 200 || !strings.Contains(string(b), `"pinned_version":"v1"`) {
		t.Fatalf("/v1/model: %s", b)
	}
	if _, err := newApp(testConfig(t, dir, "-pin-version", "v7"), ta.log); err == nil {
		t.Fatal("started with a pinned version that does not exist")
	}
}

func TestVersionOrder(t *testing.T) {
	want := []string{"1", "2", "9", "10", "v1", "v1-rc1", "v1.2", "v1.10", "v1.10.1", "v2", "v2.0", "v9", "v10", "v010a", "v10b", "v100",
		"2024-01-05", "2024-01-12", "2024-12-01", "20240105", "a", "b"}
	sort.Slice(want, func(i, j int) bool { return versionLess(want[i], want[j]) })
	got := append([]string(nil), want...)
	rng := rand.New(rand.NewSource(1))
	for k := 0; k < 50; k++ {
		rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		sort.Slice(got, func(i, j int) bool { return versionLess(got[i], got[j]) })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("unstable order: %v vs %v", got, want)
		}
	}
	for _, c := range []struct{ a, b string }{
		{"v2", "v10"}, {"1.9.9", "1.10.0"}, {"v1", "v1-rc1"}, {"2024-01-05", "2024-01-12"}, {"a", "b"}, {"9", "10"},
		{"v1", "v2"}, {"model-7", "model-12"}, {"v01", "v1"}, {"1", "a"},
	} {
		if !versionLess(c.a, c.b) || versionLess(c.b, c.a) {
			t.Errorf("want %s < %s", c.a, c.b)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", `a\b`, "sp ace", "x\x00", strings.Repeat("a", 129)} {
		if validVersionName(bad) {
			t.Errorf("%q accepted as a version name", bad)
		}
	}
}

// TestModelFreedAfterLastRequest: a swapped-out model stays open while a request holds it and
// is freed when that request releases it.
func TestModelFreedAfterLastRequest(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-keep-versions", "0"))
	held := ta.reg.Acquire()
	publishVersion(t, dir, "v2", exampleModel(t, "v2"))
	if _, err := ta.reg.Reload(""); err != nil || ta.reg.Current().Version != "v2" {
		t.Fatal(err)
	}
	select {
	case <-held.closed:
		t.Fatal("v1 freed while a request still holds it")
	default:
	}
	// The held model still predicts.
	row := make([]int8, held.NFeatures)
	out := make([]int32, 1)
	if err := held.Lib.PredictInto(row, 1, out); err != nil {
		t.Fatalf("predict on the held model: %v", err)
	}
	held.release()
	select {
	case <-held.closed:
	case <-time.After(time.Second):
		t.Fatal("v1 not freed after its last request")
	}
	if held.acquire() {
		t.Fatal("acquired a freed model")
	}
}
