package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	thetatree "github.com/thetatree/thetatree/bindings/go"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// The bundled example model of thetatree-serve (mushroom, 117 features).
func exampleModel(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "thetatree-serve", "example", "models", "v2", "model.ttm"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func newTestHandler(t testing.TB, extra map[string]string) *handler {
	t.Helper()
	e := map[string]string{"MODEL_PATH": exampleModel(t), "MODEL_VERSION": "v2"}
	for k, v := range extra {
		e[k] = v
	}
	h, err := newHandler(env(e), io.Discard)
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	return h
}

func v1Event(method, path, contentType, body string, b64 bool) []byte {
	ev := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Resource: path, Body: body, IsBase64Encoded: b64,
		Headers:        map[string]string{"Content-Type": contentType},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "rest-req-1", Stage: "Prod"}}
	b, _ := json.Marshal(ev)
	return b
}

func v2Event(method, rawPath, stage, contentType, body string, b64 bool) []byte {
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: method + " /predict", RawPath: rawPath, Body: body,
		IsBase64Encoded: b64, Headers: map[string]string{"content-type": contentType}}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.Stage = stage
	ev.RequestContext.RequestID = "http-req-1"
	b, _ := json.Marshal(ev)
	return b
}

type answer struct {
	status  int
	headers map[string]string
	body    []byte
}

func invoke(t testing.TB, h *handler, payload []byte) answer {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-1"})
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var r struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.StatusCode == 0 {
		t.Fatalf("not an API Gateway response (%v): %s", err, out)
	}
	return answer{r.StatusCode, r.Headers, []byte(r.Body)}
}

// serveAnswer is what thetatree-serve's /predict answers for body: the shared code called
// as the service calls it.
func serveAnswer(t *testing.T, h *handler, body string) []byte {
	t.Helper()
	var b predict.Buffers
	out, _, e := predict.Predict(h.model, []byte(body), h.lim, &b)
	if e != nil {
		return e.Body()
	}
	return out
}

func randomRows(n, width int, seed int64) [][]int8 {
	rng := rand.New(rand.NewSource(seed))
	rows := make([][]int8, n)
	for i := range rows {
		rows[i] = make([]int8, width)
		for j := range rows[i] {
			rows[i][j] = int8(rng.Intn(3) - 1)
		}
	}
	return rows
}

func featuresBody(rows [][]int8) string {
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
			b.WriteString(strconv.Itoa(int(v)))
		}
		b.WriteByte(']')
	}
	b.WriteString("]}")
	return b.String()
}

// TestPredictEvents: REST (v1) and HTTP API (v2) events, plain and base64 bodies, get the
// service's answer byte for byte, and that answer is the library's, bit for bit.
func TestPredictEvents(t *testing.T) {
	h := newTestHandler(t, nil)
	rows := randomRows(200, h.model.NFeatures, 3)
	body := featuresBody(rows)
	want := serveAnswer(t, h, body)
	b64 := base64.StdEncoding.EncodeToString([]byte(body))
	for name, ev := range map[string][]byte{
		"v1":             v1Event("POST", "/predict", "application/json", body, false),
		"v1 base64":      v1Event("POST", "/predict", "application/json; charset=utf-8", b64, true),
		"v2":             v2Event("POST", "/predict", "$default", "application/json", body, false),
		"v2 stage":       v2Event("POST", "/Prod/predict", "Prod", "application/json", body, false),
		"v2 base64":      v2Event("POST", "/predict", "$default", "application/json", b64, true),
		"v1 on HTTP API": bytes.Replace(v1Event("POST", "/predict", "application/json", body, false), []byte(`{`), []byte(`{"version":"1.0",`), 1),
	} {
		a := invoke(t, h, ev)
		if a.status != 200 || !bytes.Equal(a.body, want) || a.headers["Content-Type"] != "application/json" {
			t.Fatalf("%s: %d %.200s", name, a.status, a.body)
		}
	}
	// Direct invocation: the bare answer.
	if out, err := h.Invoke(context.Background(), []byte(body)); err != nil || !bytes.Equal(out, want) {
		t.Fatalf("direct invocation: %v %.200s", err, out)
	}
	// Bit for bit against the library.
	lib, err := thetatree.Load(exampleModel(t), thetatree.WithCopy())
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	var x []int8
	for _, r := range rows {
		x = append(x, r...)
	}
	labels := make([]int32, len(rows))
	proba := make([]float64, 2*len(rows))
	lib.PredictInto(x, len(rows), labels)
	lib.PredictProbaInto(x, len(rows), proba)
	var got struct {
		Predictions   []int32      `json:"predictions"`
		Probabilities [][2]float64 `json:"probabilities"`
		ModelVersion  string       `json:"model_version"`
	}
	if err := json.Unmarshal(want, &got); err != nil || got.ModelVersion != "v2" {
		t.Fatalf("%v %s", err, want)
	}
	for i := range rows {
		if got.Predictions[i] != labels[i] || math.Float64bits(got.Probabilities[i][0]) != math.Float64bits(proba[2*i]) ||
			math.Float64bits(got.Probabilities[i][1]) != math.Float64bits(proba[2*i+1]) {
			t.Fatalf("row %d: %v %v, library %d %v", i, got.Predictions[i], got.Probabilities[i], labels[i], proba[2*i:2*i+2])
		}
	}
}

// TestBadInputIsNever500: every kind of bad request is the service's JSON error with 4xx.
func TestBadInputIsNever500(t *testing.T) {
	h := newTestHandler(t, map[string]string{"MAX_BODY_BYTES": "4096"})
	big := `{"features":[` + strings.Repeat(" ", 5000) + `]}`
	for _, c := range []struct {
		name   string
		ev     []byte
		status int
		code   string
	}{
		{"invalid JSON", v2Event("POST", "/predict", "", "application/json", `{"features":`, false), 400, predict.CodeInvalidJSON},
		{"wrong width", v1Event("POST", "/predict", "application/json", `{"features":[[0,1]]}`, false), 400, predict.CodeWrongWidth},
		{"bad value", v1Event("POST", "/predict", "application/json", `{"instances":[{"odor=n":2}]}`, false), 400, predict.CodeBadValue},
		{"unknown feature", v2Event("POST", "/predict", "", "application/json", `{"instances":[{"nope":1}]}`, false), 400, predict.CodeUnknownFeature},
		{"lone surrogate", v2Event("POST", "/predict", "", "application/json", `{"instances":[{"\ud800":1}]}`, false), 400, predict.CodeInvalidJSON},
		{"too large", v1Event("POST", "/predict", "application/json", big, false), 413, predict.CodeBodyTooLarge},
		{"too large base64", v2Event("POST", "/predict", "", "application/json", base64.StdEncoding.EncodeToString([]byte(big)), true), 413, predict.CodeBodyTooLarge},
		{"bad base64", v2Event("POST", "/predict", "", "application/json", "!!!", true), 400, predict.CodeInvalidJSON},
		{"form", v1Event("POST", "/predict", "application/x-www-form-urlencoded", `{"features":[]}`, false), 415, predict.CodeUnsupportedMedia},
		{"no content type", v2Event("POST", "/predict", "", "", `{"features":[]}`, false), 415, predict.CodeUnsupportedMedia},
		{"GET /predict", v1Event("GET", "/predict", "", "", false), 405, predict.CodeMethod},
		{"other path", v2Event("POST", "/nope", "", "application/json", "{}", false), 404, predict.CodeNotFound},
		{"double slash", v1Event("POST", "//predict", "application/json", "{}", false), 404, predict.CodeNotFound},
	} {
		a := invoke(t, h, c.ev)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if a.status != c.status || json.Unmarshal(a.body, &e) != nil || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
		if a.headers["Content-Type"] != "application/json" || a.headers["X-Request-Id"] == "" {
			t.Errorf("%s: headers %v", c.name, a.headers)
		}
	}
	if a := invoke(t, h, v1Event("GET", "/predict", "", "", false)); a.headers["Allow"] != "POST" {
		t.Errorf("405 without Allow: %v", a.headers)
	}
}

// TestHealthEvent: GET /health answers the guide's keys.
func TestHealthEvent(t *testing.T) {
	h := newTestHandler(t, nil)
	for _, ev := range [][]byte{v1Event("GET", "/health", "", "", false), v2Event("GET", "/Prod/health", "Prod", "", "", false)} {
		a := invoke(t, h, ev)
		var r struct {
			Status      string `json:"status"`
			ModelLoaded bool   `json:"model_loaded"`
		}
		if a.status != 200 || json.Unmarshal(a.body, &r) != nil || r.Status != "healthy" || !r.ModelLoaded {
			t.Errorf("%d %s", a.status, a.body)
		}
	}
}

// TestInitConfiguration: the model and settings are checked at init; a bad model or a bad
// setting fails the init with a message naming it.
func TestInitConfiguration(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "bad.ttm")
	b, _ := os.ReadFile(exampleModel(t))
	b[len(b)/2] ^= 1
	os.WriteFile(corrupt, b, 0o644)
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("a signing key\n"), 0o600)
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "MODEL_PATH is required"},
		{map[string]string{"MODEL_PATH": filepath.Join(dir, "missing.ttm")}, "no such file"},
		{map[string]string{"MODEL_PATH": dir}, "not a regular file"},
		{map[string]string{"MODEL_PATH": corrupt}, "CHECKSUM"},
		{map[string]string{"MODEL_PATH": exampleModel(t), "MODEL_KEY_FILE": key}, "UNSIGNED"},
		{map[string]string{"MODEL_PATH": exampleModel(t), "MAX_ROWS": "0"}, "MAX_ROWS"},
		{map[string]string{"MODEL_PATH": exampleModel(t), "MAX_BODY_BYTES": "x"}, "MAX_BODY_BYTES"},
		{map[string]string{"MODEL_PATH": exampleModel(t), "UNKNOWN_FEATURES": "drop"}, "UNKNOWN_FEATURES"},
	} {
		_, err := newHandler(env(c.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.env, err, c.want)
		}
	}
	// A relative MODEL_PATH is in the task root; the version defaults to the embedded one.
	h, err := newHandler(env(map[string]string{"MODEL_PATH": "model.ttm", "LAMBDA_TASK_ROOT": filepath.Dir(exampleModel(t))}), io.Discard)
	if err != nil || h.model.Version != "mushroom_entropy_d8_lgk14" {
		t.Fatalf("relative path: %v", err)
	}
	// A signed model verifies.
	cli := filepath.Join("..", "..", "..", "target", "release", "thetatree")
	signed := filepath.Join(dir, "signed.ttm")
	if out, err := exec.Command(cli, "sign", "--key-file", key, exampleModel(t), "-o", signed).CombinedOutput(); err != nil {
		t.Fatalf("thetatree sign: %v %s", err, out)
	}
	if _, err := newHandler(env(map[string]string{"MODEL_PATH": signed, "MODEL_KEY_FILE": key}), io.Discard); err != nil {
		t.Fatalf("signed model: %v", err)
	}
}

// FuzzHandler: no event or body makes the function answer 5xx or fail the invocation.
func FuzzHandler(f *testing.F) {
	h := newTestHandler(f, map[string]string{"MAX_BODY_BYTES": "65536"})
	for _, s := range []string{`{"features":[[0]]}`, `{"instances":[{"odor=n":1}]}`, `{}`, `[`, `{"instances":[{"\ud800":1}]}`} {
		f.Add(s, false, true)
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)), true, false)
	}
	f.Fuzz(func(t *testing.T, body string, b64, v2 bool) {
		ev := v1Event("POST", "/predict", "application/json", body, b64)
		if v2 {
			ev = v2Event("POST", "/predict", "", "application/json", body, b64)
		}
		if a := invoke(t, h, ev); a.status >= 500 || a.status < 200 {
			t.Fatalf("status %d for %q: %s", a.status, body, a.body)
		}
		if _, err := h.Invoke(context.Background(), []byte(body)); err != nil {
			t.Fatalf("direct invocation of %q: %v", body, err)
		}
	})
}

// TestPredictExplainEvent: "explain": true through an API Gateway event is the service's
// explained answer, byte for byte; an answer too large for a Lambda response is a 413 that
// says so, not a failed invocation.
func TestPredictExplainEvent(t *testing.T) {
	h := newTestHandler(t, nil)
	rows := randomRows(50, h.model.NFeatures, 7)
	body := `{"explain":true,"top_k":3,` + strings.TrimPrefix(featuresBody(rows), "{")
	want := serveAnswer(t, h, body)
	var got struct {
		Predictions  []int32 `json:"predictions"`
		Explanations []struct {
			Leaf  int32   `json:"leaf"`
			Nodes []int32 `json:"nodes"`
		} `json:"explanations"`
	}
	if err := json.Unmarshal(want, &got); err != nil || len(got.Explanations) != len(rows) {
		t.Fatalf("%v: %.300s", err, want)
	}
	lib, err := thetatree.Load(exampleModel(t), thetatree.WithCopy())
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	for i, r := range rows {
		leaf, err := lib.PredictLeaf(r, 1)
		if err != nil || got.Explanations[i].Leaf != leaf[0] {
			t.Fatalf("row %d: leaf %d, library %v (%v)", i, got.Explanations[i].Leaf, leaf, err)
		}
	}
	for name, ev := range map[string][]byte{
		"v1": v1Event("POST", "/predict", "application/json", body, false),
		"v2": v2Event("POST", "/predict", "$default", "application/json", body, false),
	} {
		if a := invoke(t, h, ev); a.status != 200 || !bytes.Equal(a.body, want) {
			t.Fatalf("%s: %d %.200s", name, a.status, a.body)
		}
	}
	h.maxAnswer = len(want) // the escaped body is longer than the bare answer
	a := invoke(t, h, v1Event("POST", "/predict", "application/json", body, false))
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || a.status != 413 || e.Error.Code != predict.CodeTooManyRows ||
		!strings.Contains(e.Error.Message, "Lambda response limit") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if n := wrappedLen(want); n <= len(want) {
		t.Fatalf("wrappedLen %d for %d bytes with quotes", n, len(want))
	}
	ev, _ := json.Marshal(events.APIGatewayProxyResponse{Body: string(want)})
	plain, _ := json.Marshal(events.APIGatewayProxyResponse{Body: ""})
	if got := len(ev) - len(plain); got != wrappedLen(want) {
		t.Fatalf("the event's body is %d bytes, wrappedLen says %d", got, wrappedLen(want))
	}
}
