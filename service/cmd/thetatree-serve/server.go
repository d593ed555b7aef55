package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// app is one service instance: configuration, registry, metrics and HTTP handlers.
type app struct {
	cfg       *Config
	log       *slog.Logger
	metrics   *Metrics
	reg       *Registry
	lim       parseLimits
	tokenHash [32]byte
	started   time.Time

	shuttingDown atomic.Bool
	reqSeq       atomic.Uint64
	reqPrefix    string
	pool         sync.Pool // *predictState
}

// newApp builds the service and loads the initial model (the newest valid version, or the
// pinned one). It fails when no version can be served.
func newApp(cfg *Config, log *slog.Logger) (*app, error) {
	a := &app{
		cfg:     cfg,
		log:     log,
		metrics: NewMetrics(),
		lim: parseLimits{maxRows: cfg.MaxRows, maxDepth: cfg.MaxJSONDepth,
			ignoreUnknown: cfg.UnknownFeatures == "ignore"},
		started: time.Now(),
	}
	a.tokenHash = sha256.Sum256([]byte(cfg.AdminToken))
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	a.reqPrefix = hex.EncodeToString(rnd[:])
	a.pool.New = func() any { return new(predictState) }
	a.reg = NewRegistry(cfg, log, a.metrics)
	res, err := a.reg.Reload("")
	if err != nil || a.reg.Current() == nil {
		if err == nil {
			err = errNoModel
		}
		a.reg.Close()
		return nil, fmt.Errorf("no model to serve: %w (refused: %d)", err, len(res.Refused))
	}
	return a, nil
}

// handler is the HTTP routing table.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/predict", a.route("predict", http.MethodPost, a.handlePredict))
	mux.Handle("/health", a.route("health", http.MethodGet, a.handleHealth))
	mux.Handle("/healthz", a.route("health", http.MethodGet, a.handleHealth))
	mux.Handle("/ready", a.route("ready", http.MethodGet, a.handleReady))
	mux.Handle("/readyz", a.route("ready", http.MethodGet, a.handleReady))
	mux.Handle("/v1/model", a.route("model", http.MethodGet, a.handleModel))
	mux.Handle("/admin/reload", a.route("admin_reload", http.MethodPost, a.admin(a.handleReload)))
	mux.Handle("/admin/rollback", a.route("admin_rollback", http.MethodPost, a.admin(a.handleRollback)))
	metrics := promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{})
	mux.Handle("/metrics", a.route("metrics", http.MethodGet, func(w *respWriter, r *http.Request) {
		metrics.ServeHTTP(w, r)
	}))
	mux.Handle("/", a.route("not_found", "", func(w *respWriter, r *http.Request) {
		a.writeError(w, &apiError{Status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("no such endpoint: %s", truncate(r.URL.Path, 200))})
	}))
	return mux
}

// respWriter records what the access log and the metrics need.
type respWriter struct {
	http.ResponseWriter
	status  int
	rows    int
	version string
	errCode string
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// route wraps a handler with the method check, metrics, request id, panic guard and access log.
func (a *app) route(name, method string, h func(*respWriter, *http.Request)) http.Handler {
	latency := a.metrics.latency.WithLabelValues(name)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		a.metrics.inflight.Inc()
		w := &respWriter{ResponseWriter: rw}
		id := requestID(r.Header.Get("X-Request-Id"))
		if id == "" {
			id = a.reqPrefix + "-" + strconv.FormatUint(a.reqSeq.Add(1), 36)
		}
		w.Header().Set("X-Request-Id", id)
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				a.log.Error("panic in handler", "handler", name, "request_id", id, "panic", fmt.Sprint(p),
					"stack", string(debug.Stack()))
				if w.status == 0 {
					a.writeError(w, &apiError{Status: http.StatusInternalServerError, Code: codeInternal,
						Message: "internal error"})
				}
			}
			a.metrics.inflight.Dec()
			if w.status == 0 {
				w.status = http.StatusOK
			}
			d := time.Since(start)
			latency.Observe(d.Seconds())
			a.metrics.requests.WithLabelValues(name, strconv.Itoa(w.status)).Inc()
			if w.status >= 500 || a.cfg.AccessLog {
				level := slog.LevelInfo
				if w.status >= 500 {
					level = slog.LevelError
				}
				attrs := []slog.Attr{
					slog.String("request_id", id), slog.String("method", r.Method),
					slog.String("path", truncate(r.URL.Path, 200)), slog.Int("status", w.status),
					slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("remote", r.RemoteAddr),
				}
				if w.rows > 0 {
					attrs = append(attrs, slog.Int("rows", w.rows))
				}
				if w.version != "" {
					attrs = append(attrs, slog.String("model_version", w.version))
				}
				if w.errCode != "" {
					attrs = append(attrs, slog.String("error", w.errCode))
				}
				a.log.LogAttrs(r.Context(), level, "request", attrs...)
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's way to abort a response: let it through
			}
		}()
		if method != "" && r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			a.writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: codeMethod,
				Message: fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method)})
			return
		}
		h(w, r)
	})
}

// requestID accepts a caller's X-Request-Id if it is short and printable.
func requestID(s string) string {
	if s == "" || len(s) > 128 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return ""
		}
	}
	return s
}

func (a *app) writeError(w *respWriter, e *apiError) {
	w.errCode = e.Code
	body, _ := json.Marshal(struct {
		Error *apiError `json:"error"`
	}{e})
	a.writeJSONBytes(w, e.Status, append(body, '\n'))
}

func (a *app) writeJSON(w *respWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.writeError(w, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "encoding the answer failed"})
		return
	}
	a.writeJSONBytes(w, status, append(body, '\n'))
}

func (a *app) writeJSONBytes(w *respWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// predictState holds the reusable buffers of one /predict request.
type predictState struct {
	body   []byte
	x      []int8
	seen   []uint32
	labels []int32
	proba  []float64
	out    []byte
	parser predictParser
}

const maxPooledBytes = 8 << 20 // larger buffers are dropped rather than kept in the pool

func (a *app) putState(st *predictState) {
	if cap(st.body) > maxPooledBytes || cap(st.x) > maxPooledBytes || cap(st.out) > maxPooledBytes ||
		cap(st.proba) > maxPooledBytes/8 {
		return
	}
	st.parser = predictParser{}
	a.pool.Put(st)
}

func (a *app) handlePredict(w *respWriter, r *http.Request) {
	if a.shuttingDown.Load() {
		// Still served (the listener drains), but tell clients to reconnect elsewhere.
		w.Header().Set("Connection", "close")
	}
	if r.ContentLength > a.cfg.MaxBodyBytes {
		a.rejectInput(w, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge,
			Message: fmt.Sprintf("request body of %d bytes exceeds the limit of %d", r.ContentLength, a.cfg.MaxBodyBytes)})
		return
	}
	st := a.pool.Get().(*predictState)
	defer a.putState(st)
	body, err := readBody(http.MaxBytesReader(w.ResponseWriter, r.Body, a.cfg.MaxBodyBytes), st.body[:0])
	st.body = body
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.rejectInput(w, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge,
				Message: fmt.Sprintf("request body exceeds the limit of %d bytes", a.cfg.MaxBodyBytes)})
			return
		}
		a.rejectInput(w, &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON,
			Message: "could not read the request body: " + err.Error()})
		return
	}

	// From here on the request uses exactly one model version, whatever reloads happen.
	s := a.reg.Acquire()
	if s == nil {
		a.writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeNoModel, Message: "no model is loaded"})
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			s.release()
		}
	}
	defer release()
	w.version = s.version

	p := &st.parser
	p.reset(body, s, a.lim, st.x, st.seen)
	perr := p.parse()
	st.x, st.seen = p.x, p.seen
	if perr != nil {
		a.rejectInput(w, perr)
		return
	}
	n := p.rows
	w.rows = n
	if cap(st.labels) < n {
		st.labels = make([]int32, n)
	}
	if cap(st.proba) < 2*n {
		st.proba = make([]float64, 2*n)
	}
	labels, proba := st.labels[:n], st.proba[:2*n]
	if n > 0 {
		if err := s.model.PredictInto(p.x, n, labels); err != nil {
			a.predictError(w, err)
			return
		}
		if err := s.model.PredictProbaInto(p.x, n, proba); err != nil {
			a.predictError(w, err)
			return
		}
	}
	out := appendPrediction(st.out[:0], labels, proba, s)
	st.out = out
	release() // the answer is encoded: the model may go
	a.metrics.rows.Add(float64(n))
	a.metrics.rowsPerReq.Observe(float64(n))
	a.writeJSONBytes(w, http.StatusOK, out)
}

// predictError maps a library error during prediction. Input is validated before the call, so
// an input error here is still the client's (400 naming row and column); anything else is ours.
func (a *app) predictError(w *respWriter, err error) {
	var te *thetatree.Error
	if errors.As(err, &te) && (errors.Is(err, thetatree.ErrInputValue) || errors.Is(err, thetatree.ErrShape)) {
		e := &apiError{Status: http.StatusBadRequest, Code: codeBadValue, Message: te.Message}
		if errors.Is(err, thetatree.ErrShape) {
			e.Code = codeWrongWidth
		}
		if te.Row >= 0 {
			e.Row = intp(int(te.Row))
		}
		if te.Column >= 0 {
			e.Column = intp(int(te.Column))
		}
		a.rejectInput(w, e)
		return
	}
	a.log.Error("prediction failed", "error", err.Error())
	a.writeError(w, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "prediction failed"})
}

func (a *app) rejectInput(w *respWriter, e *apiError) {
	a.metrics.inputErrors.WithLabelValues(e.Code).Inc()
	a.writeError(w, e)
}

// readBody reads r to the end into buf (reused when large enough).
func readBody(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < 4096 {
		buf = make([]byte, 0, 4096)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// appendPrediction encodes the /predict answer. Probabilities are written as the shortest
// decimal that parses back to the same float64 (strconv 'f'/'e' with precision -1, as
// encoding/json does), so clients get the library's values bit for bit; integral values keep
// a ".0" so they stay floats in dynamically typed clients.
func appendPrediction(b []byte, labels []int32, proba []float64, s *servedModel) []byte {
	b = append(b, `{"predictions":[`...)
	for i, l := range labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(l), 10)
	}
	b = append(b, `],"probabilities":[`...)
	for i := 0; i < len(labels); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendFloat(b, proba[2*i])
		b = append(b, ',')
		b = appendFloat(b, proba[2*i+1])
		b = append(b, ']')
	}
	b = append(b, `],"model_version":`...)
	b = append(b, s.versionJSON...)
	b = append(b, `,"model_digest":`...)
	b = append(b, s.digestJSON...)
	return append(b, "}\n"...)
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...) // cannot happen: the library validates probabilities
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as encoding/json writes it.
		n := len(b)
		if n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}

func (a *app) handleHealth(w *respWriter, r *http.Request) {
	a.writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

func (a *app) handleReady(w *respWriter, r *http.Request) {
	if a.shuttingDown.Load() {
		a.writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting_down"})
		return
	}
	s := a.reg.Current()
	if s == nil {
		a.writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no_model"})
		return
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "model_version": s.version,
		"model_digest": s.digest, "verified": s.verified})
}

// modelInfo is GET /v1/model.
type modelInfo struct {
	Version         string          `json:"version"`
	EmbeddedVersion string          `json:"embedded_version"`
	Digest          string          `json:"digest"`
	Signed          bool            `json:"signed"`
	Verified        bool            `json:"verified"`
	LoadedAt        time.Time       `json:"loaded_at"`
	NFeatures       int             `json:"n_features"`
	Features        []string        `json:"features"`
	Classes         []string        `json:"classes"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	Pinned          string          `json:"pinned_version,omitempty"`
	RollbackTargets []string        `json:"rollback_versions"`
	Input           string          `json:"input"`
	LibraryVersion  string          `json:"library_version"`
}

func (a *app) handleModel(w *respWriter, r *http.Request) {
	s := a.reg.Current()
	if s == nil {
		a.writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeNoModel, Message: "no model is loaded"})
		return
	}
	a.writeJSON(w, http.StatusOK, modelInfo{
		Version: s.version, EmbeddedVersion: s.embeddedVersion, Digest: s.digest, Signed: s.signed,
		Verified: s.verified, LoadedAt: s.loadedAt, NFeatures: s.nFeatures, Features: s.featureNames,
		Classes: s.classes, Metadata: s.metadata, Pinned: a.cfg.PinVersion, RollbackTargets: a.reg.History(),
		LibraryVersion: thetatree.LibraryVersion(),
		Input:          "values 0 (absent), 1 (present), -1 or null (missing); \"features\" rows in this feature order, or \"instances\" objects by feature name (absent names = 0)",
	})
}

// admin guards the admin endpoints with the bearer token (constant-time comparison).
func (a *app) admin(h func(*respWriter, *http.Request)) func(*respWriter, *http.Request) {
	return func(w *respWriter, r *http.Request) {
		if a.cfg.AdminToken == "" {
			a.writeError(w, &apiError{Status: http.StatusForbidden, Code: codeAdminDisabled,
				Message: "the admin API is disabled: set ADMIN_TOKEN (or send SIGHUP to reload)"})
			return
		}
		auth := r.Header.Get("Authorization")
		const prefix = "Bearer "
		ok := len(auth) > len(prefix) && strings.EqualFold(auth[:len(prefix)], prefix)
		if ok {
			got := sha256.Sum256([]byte(auth[len(prefix):]))
			ok = subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="thetatree-serve admin"`)
			a.writeError(w, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized,
				Message: "missing or wrong bearer token"})
			return
		}
		h(w, r)
	}
}

type adminAnswer struct {
	Error *apiError `json:"error,omitempty"`
	ReloadResult
}

func (a *app) handleReload(w *respWriter, r *http.Request) {
	var req struct {
		Version string `json:"version"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w.ResponseWriter, r.Body, 4096))
	if err != nil {
		a.writeError(w, &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "could not read the body: " + err.Error()})
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			a.writeError(w, &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON,
				Message: `body must be empty or {"version": "<name>"}: ` + err.Error()})
			return
		}
	}
	res, err := a.reg.Reload(req.Version)
	a.log.Info("reload requested", "source", "admin", "requested", req.Version, "status", res.Status,
		"version", res.Version, "refused", len(res.Refused), "error", errString(err))
	switch {
	case errors.Is(err, errUnknownVersion):
		a.writeJSON(w, http.StatusNotFound, adminAnswer{&apiError{Code: codeReloadRefused, Message: err.Error()}, res})
	case errors.Is(err, errInvalidVersionNm):
		a.writeJSON(w, http.StatusBadRequest, adminAnswer{&apiError{Code: codeReloadRefused, Message: err.Error()}, res})
	case err != nil:
		a.writeJSON(w, http.StatusConflict, adminAnswer{&apiError{Code: codeReloadRefused, Message: err.Error()}, res})
	case res.Status == "refused":
		a.writeJSON(w, http.StatusConflict, adminAnswer{&apiError{Code: codeReloadRefused,
			Message: fmt.Sprintf("new version refused; still serving %s", res.Version)}, res})
	default:
		a.writeJSON(w, http.StatusOK, adminAnswer{nil, res})
	}
}

func (a *app) handleRollback(w *respWriter, r *http.Request) {
	res, err := a.reg.Rollback()
	a.log.Info("rollback requested", "source", "admin", "status", res.Status, "version", res.Version,
		"error", errString(err))
	if err != nil {
		a.writeJSON(w, http.StatusConflict, adminAnswer{&apiError{Code: codeRollbackRefused, Message: err.Error()}, res})
		return
	}
	a.writeJSON(w, http.StatusOK, adminAnswer{nil, res})
}

// reloadFromSignal is what SIGHUP does.
func (a *app) reloadFromSignal() {
	res, err := a.reg.Reload("")
	a.log.Info("reload requested", "source", "sighup", "status", res.Status, "version", res.Version,
		"refused", len(res.Refused), "error", errString(err))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// serve runs the HTTP server on ln until ctx is cancelled, then shuts down gracefully: /ready
// turns 503, after DrainDelay the listener closes, in-flight requests finish (up to
// ShutdownTimeout), and the models are released.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("listening", "addr", ln.Addr().String(), "model_version", versionOf(a.reg.Current()))
	select {
	case err := <-errc:
		a.reg.Close()
		return err
	case <-ctx.Done():
	}
	a.shuttingDown.Store(true)
	a.log.Info("shutting down", "drain_delay", a.cfg.DrainDelay.String(), "timeout", a.cfg.ShutdownTimeout.String())
	if a.cfg.DrainDelay > 0 {
		time.Sleep(a.cfg.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		a.log.Error("shutdown timed out; closing remaining connections", "error", err.Error())
		_ = srv.Close()
	}
	<-errc
	a.reg.Close()
	a.log.Info("stopped")
	return err
}
