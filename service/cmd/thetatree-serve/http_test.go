package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// startServing runs ta.serve on a loopback listener (the real server, with its connection
// guard) and returns the address; the server stops at the end of the test.
func startServing(t *testing.T, ta *testApp) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ta.serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	waitReady(t, "http://"+ln.Addr().String())
	return ln.Addr().String()
}

// rawExchange writes raw bytes on a fresh connection and reads the whole answer (the
// connection is closed by the server, or after the deadline).
func rawExchange(t *testing.T, addr string, req []byte, deadline time.Duration) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(deadline))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no HTTP answer to %q: %v", truncateBytes(req), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func truncateBytes(b []byte) string { return predict.Truncate(string(b), 80) }

// TestContentTypeRequired (finding 6): only uncompressed application/json bodies are parsed;
// everything else is 415 and counted.
func TestContentTypeRequired(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	body := `{"instances":[{"odor=n":1}]}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(body))
	zw.Close()
	send := func(ct, ce string, b []byte) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/predict", bytes.NewReader(b))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if ce != "" {
			req.Header.Set("Content-Encoding", ce)
		}
		resp, err := ta.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	for _, c := range []struct{ ct, ce string }{
		{"", ""}, {"text/plain", ""}, {"application/x-www-form-urlencoded", ""}, {"multipart/form-data; boundary=x", ""},
		{"application/json; charset=latin-1", ""}, {"application/jsonx", ""}, {"application/json", "gzip"},
		{"application/json", "br"}, {";;;", ""},
	} {
		b := []byte(body)
		if c.ce == "gzip" {
			b = gz.Bytes()
		}
		code, out := send(c.ct, c.ce, b)
		if code != 415 || decodeError(t, out).Error.Code != predict.CodeUnsupportedMedia {
			t.Errorf("Content-Type %q, Content-Encoding %q: %d %s", c.ct, c.ce, code, out)
		}
	}
	for _, ct := range []string{"application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8"} {
		if code, out := send(ct, "identity", []byte(body)); code != 200 {
			t.Errorf("Content-Type %q: %d %s", ct, code, out)
		}
	}
	if !metric(t, ta, `thetatree_predict_rejected_total{code="unsupported_media_type"} 9`) {
		t.Error("415s not counted")
	}
}

// TestLoneSurrogatesAreInvalidJSON (finding 6): a name with a lone UTF-16 surrogate escape is
// invalid_json (encoding/json would have turned it into U+FFFD: unknown_feature); a valid
// pair decodes.
func TestLoneSurrogatesAreInvalidJSON(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-unknown-features", "ignore"))
	for _, name := range []string{`\ud800`, `odor=n\udfff`, `\ud83d\u0041`, `\udc00\ud800`, `x\ud83d`} {
		for _, body := range []string{`{"instances":[{"` + name + `":1}]}`, `{"instances":[{"odor=n":1,"x":{"` + name + `":0}}]}`} {
			code, b := ta.post(t, "/predict", body)
			if e := decodeError(t, b); code != 400 || e.Error.Code != predict.CodeInvalidJSON || e.Error.Offset == nil {
				t.Errorf("%s: %d %s", body, code, b)
			}
		}
	}
	// A surrogate pair is a valid (unknown, ignored) name.
	mustOK(t, ta, `{"instances":[{"\ud83d\ude00":1,"odor\u003dn":1}]}`)
}

// TestServerOwnErrorsAreJSON (finding 6): what net/http answers by itself (malformed request
// line, headers too large, bad transfer coding, header timeout, unsupported Expect) comes
// back as the service's JSON errors, counted and logged; "//predict" is a JSON 404, not a
// 307.
func TestServerOwnErrorsAreJSON(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-drain-delay", "0"))
	addr := startServing(t, ta)
	for _, c := range []struct {
		name, req string
		status    int
		code      string
	}{
		{"bad request line", "GARBAGE\r\n\r\n", 400, codeBadRequest},
		{"no Host", "GET /health HTTP/1.1\r\n\r\n", 400, codeBadRequest},
		{"bad header", "GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, codeBadRequest},
		{"headers too large", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 80<<10) + "\r\n\r\n", 431, codeHeaderTooLarge},
		{"transfer coding", "POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n", 501, codeNotImplemented},
		{"expect", "GET /health HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417, codeExpectationFailed},
		{"double slash", "GET //predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, predict.CodeNotFound},
		{"dot segments", "GET /x/../predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, predict.CodeNotFound},
	} {
		resp, b := rawExchange(t, addr, []byte(c.req), 10*time.Second)
		var e errorResponse
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal(b, &e) != nil || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %q %s", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	for _, want := range []string{`thetatree_http_requests_total{code="400",handler="server"} 3`,
		`thetatree_http_requests_total{code="431",handler="server"} 1`, `thetatree_http_requests_total{code="501",handler="server"} 1`,
		`thetatree_http_requests_total{code="417",handler="server"} 1`, `thetatree_http_requests_total{code="404",handler="not_found"} 2`} {
		if !metric(t, ta, want) {
			_, m := ta.get(t, "/metrics")
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(m), "thetatree_http_requests_total"))
		}
	}
	if n := strings.Count(ta.logs.String(), `"msg":"request rejected before routing"`); n != 6 {
		t.Errorf("%d rejections logged, want 6", n)
	}
}

// TestSlowHeadersGetJSONTimeout (finding 6): a client that stops sending in the middle of its
// headers gets a JSON 408 when ReadHeaderTimeout expires; an idle keep-alive connection is
// closed without an answer.
func TestSlowHeadersGetJSONTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s header timeout")
	}
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-drain-delay", "0"))
	addr := startServing(t, ta)
	start := time.Now()
	resp, b := rawExchange(t, addr, []byte("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Ty"), readHeaderTimeout+20*time.Second)
	if e := decodeError(t, b); resp.StatusCode != 408 || e.Error.Code != codeRequestTimeout {
		t.Fatalf("slow headers: %d %s", resp.StatusCode, b)
	}
	if d := time.Since(start); d < readHeaderTimeout-time.Second {
		t.Fatalf("answered after %s, before the header timeout", d)
	}
	if !metric(t, ta, `thetatree_http_requests_total{code="408",handler="server"} 1`) {
		_, m := ta.get(t, "/metrics")
		t.Errorf("408 not counted:\n%s", grepLines(string(m), "thetatree_http_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHealthGuideKeys (finding 7): /health answers what a client of the deployment guide's
// Flask app reads: {"status": "healthy", "model_loaded": true}.
func TestHealthGuideKeys(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	for _, path := range []string{"/health", "/healthz"} {
		code, b := ta.get(t, path)
		var guide struct {
			Status      string `json:"status"`
			ModelLoaded *bool  `json:"model_loaded"`
		}
		if code != 200 || json.Unmarshal(b, &guide) != nil || guide.Status != "healthy" || guide.ModelLoaded == nil || !*guide.ModelLoaded {
			t.Errorf("%s: %d %s", path, code, b)
		}
	}
}
