package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// handler answers API Gateway proxy events (REST API, payload v1; HTTP API, payload v2) with
// the same parsing, validation and answers as thetatree-serve's /predict (internal/predict).
// A direct invocation whose payload is a /predict body is answered with the bare answer.
// Lambda runs one invocation at a time per process, so the buffers are reused without a pool.
type handler struct {
	model   *predict.Model
	lim     predict.Limits
	maxBody int64
	// maxAnswer bounds an answer's size in the response event (maxLambdaResponse minus
	// responseSlack; tests lower it).
	maxAnswer int
	log       *slog.Logger
	buf       predict.Buffers
}

// eventKind tells the payload formats apart from the few fields that identify them.
type eventKind struct {
	Version    string `json:"version"`    // "2.0" for HTTP API payload v2 ("1.0" for v1 on an HTTP API)
	HTTPMethod string `json:"httpMethod"` // payload v1
	RouteKey   string `json:"routeKey"`
}

// request is an API Gateway event reduced to what the answer depends on.
type request struct {
	method, path, requestID string
	headers                 map[string]string // lower-case names
	body                    string
	base64                  bool
}

// response is what becomes the API Gateway answer.
type response struct {
	status  int
	body    []byte
	headers map[string]string
}

// Invoke implements lambda.Handler on the raw payload.
func (h *handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	var kind eventKind
	_ = json.Unmarshal(payload, &kind) // a payload that is no object is a direct invocation
	switch {
	case kind.Version == "2.0":
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err // not what API Gateway sends: a Lambda error, not a response
		}
		req := request{method: ev.RequestContext.HTTP.Method, path: stripStage(ev.RawPath, ev.RequestContext.Stage),
			requestID: ev.RequestContext.RequestID, headers: lowerKeys(ev.Headers), body: ev.Body, base64: ev.IsBase64Encoded}
		r := h.serve(ctx, req, start)
		return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: r.status, Headers: r.headers, Body: string(r.body)})
	case kind.HTTPMethod != "":
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		headers := lowerKeys(ev.Headers)
		for k, v := range ev.MultiValueHeaders {
			if len(v) > 0 {
				headers[strings.ToLower(k)] = v[0]
			}
		}
		// REST API: path is the resource path without the stage.
		req := request{method: ev.HTTPMethod, path: ev.Path, requestID: ev.RequestContext.RequestID,
			headers: headers, body: ev.Body, base64: ev.IsBase64Encoded}
		r := h.serve(ctx, req, start)
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: r.status, Headers: r.headers, Body: string(r.body)})
	}
	// Direct invocation (aws lambda invoke): the payload is the body.
	r := h.serve(ctx, request{method: http.MethodPost, path: "/predict", body: string(payload),
		headers: map[string]string{"content-type": "application/json"}}, start)
	return r.body, nil
}

// serve routes one request: POST /predict, GET /health; anything else is a JSON 404/405.
func (h *handler) serve(ctx context.Context, req request, start time.Time) response {
	if lc, ok := lambdacontext.FromContext(ctx); ok && req.requestID == "" {
		req.requestID = lc.AwsRequestID
	}
	var (
		r     response
		rows  int
		e     *predict.Error
		route = req.path
	)
	switch {
	case req.path == "/predict" && req.method == http.MethodPost:
		r, rows, e = h.predict(req)
	case req.path == "/predict":
		e = predict.MethodNotAllowed(req.method, req.path, http.MethodPost)
	case req.path == "/health" && (req.method == http.MethodGet || req.method == http.MethodHead):
		b, _ := json.Marshal(map[string]any{"status": "healthy", "model_loaded": true, "model_version": h.model.Version})
		r = response{status: http.StatusOK, body: append(b, '\n')}
	case req.path == "/health":
		e = predict.MethodNotAllowed(req.method, req.path, http.MethodGet)
	default:
		e, route = predict.NotFound(req.path), "not_found"
	}
	if e != nil {
		r = response{status: e.Status, body: e.Body()}
	}
	r.headers = map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff"}
	if req.requestID != "" {
		r.headers["X-Request-Id"] = req.requestID
	}
	if e != nil && e.Status == http.StatusMethodNotAllowed {
		r.headers["Allow"] = map[string]string{"/predict": http.MethodPost, "/health": http.MethodGet}[req.path]
	}
	h.logRequest(ctx, req, route, r.status, rows, e, time.Since(start))
	return r
}

// predict decodes the body (base64 if API Gateway says so) within the size limit and answers
// it exactly as thetatree-serve's /predict does.
func (h *handler) predict(req request) (response, int, *predict.Error) {
	if e := predict.CheckContentType(req.headers["content-type"], req.headers["content-encoding"]); e != nil {
		return response{}, 0, e
	}
	body := []byte(req.body)
	if req.base64 {
		// Check the size before decoding: base64 is 4 bytes per 3.
		if n := int64(base64.StdEncoding.DecodedLen(len(req.body))); n > h.maxBody+2 {
			return response{}, 0, predict.BodyTooLarge(n, h.maxBody)
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.body); err != nil {
			return response{}, 0, predict.Errorf(http.StatusBadRequest, predict.CodeInvalidJSON,
				"the event body is marked base64 but does not decode: %v", err)
		}
	}
	if int64(len(body)) > h.maxBody {
		return response{}, 0, predict.BodyTooLarge(int64(len(body)), h.maxBody)
	}
	answer, rows, e := predict.Predict(h.model, body, h.lim, &h.buf)
	if e != nil {
		return response{}, rows, e
	}
	if n := wrappedLen(answer); n > h.maxAnswer {
		// Lambda would fail the invocation with a bare 502 at API Gateway: say why instead.
		return response{}, rows, predict.Errorf(http.StatusRequestEntityTooLarge, predict.CodeTooManyRows,
			"the answer for %d rows is %d bytes in the gateway response, over the Lambda response limit of %d: send fewer rows per request",
			rows, n, h.maxAnswer)
	}
	return response{status: http.StatusOK, body: answer}, rows, nil
}

// maxLambdaResponse is Lambda's limit on a synchronous invocation's response payload (6 MB);
// responseSlack leaves room for the event envelope and headers around the body. Only an
// explained answer ("explain": true, hundreds of bytes per row) can come near it.
const (
	maxLambdaResponse = 6 << 20
	responseSlack     = 64 << 10
)

// wrappedLen is the length of body once json.Marshal has escaped it as the response event's
// Body string: quotes, backslashes and the final newline gain a backslash; <, > and & become
// \u00XX (the answer holds no other character that needs escaping).
func wrappedLen(body []byte) int {
	n := len(body)
	for _, c := range body {
		switch c {
		case '"', '\\', '\n':
			n++
		case '<', '>', '&':
			n += 5
		}
	}
	return n
}

// logRequest is one JSON line per invocation with the deployment guide's fields.
func (h *handler) logRequest(ctx context.Context, req request, route string, status, rows int, e *predict.Error, d time.Duration) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("request_id", req.requestID), slog.String("method", req.method),
		slog.String("path", predict.Truncate(route, 200)), slog.Int("status", status),
		slog.Float64("latency_seconds", d.Seconds()), slog.String("model_version", h.model.Version)}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("aws_request_id", lc.AwsRequestID))
	}
	if rows > 0 {
		attrs = append(attrs, slog.Any("input_shape", []int{rows, h.model.NFeatures}))
	}
	if rows > 0 && e == nil {
		attrs = append(attrs, slog.Int("predictions_count", rows))
	}
	if e != nil {
		attrs = append(attrs, slog.String("error", e.Code))
		if e.Cause != nil {
			attrs = append(attrs, slog.String("cause", e.Cause.Error()))
		}
	}
	h.log.LogAttrs(ctx, level, "request", attrs...)
}

// stripStage removes a named stage from an HTTP API raw path ("/Prod/predict" -> "/predict").
func stripStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	if rest, ok := strings.CutPrefix(path, "/"+stage); ok && (rest == "" || rest[0] == '/') {
		return rest
	}
	return path
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
