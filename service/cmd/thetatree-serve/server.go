package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// app is one service instance: configuration, registry, metrics and HTTP handlers.
type app struct {
	cfg       *Config
	log       *slog.Logger
	metrics   *Metrics
	reg       *Registry
	lim       predict.Limits
	tokenHash [32]byte
	started   time.Time

	shuttingDown atomic.Bool
	reqSeq       atomic.Uint64
	reqPrefix    string
	pool         sync.Pool // *predict.Buffers

	budget     budget       // request bytes in flight (MAX_INFLIGHT_BYTES)
	concurrent atomic.Int64 // /predict and /feedback requests being served
	auth       *authLimiter
	feedback   *feedbackState
	serverLogs logLimiter // errors answered for net/http itself (bad request lines, ...)
}

// newApp builds the service and loads the initial model (the newest valid version, or the
// pinned one). It fails when no version can be served.
func newApp(cfg *Config, log *slog.Logger) (*app, error) {
	a := &app{
		cfg:        cfg,
		log:        log,
		metrics:    NewMetrics(),
		lim:        cfg.limits(),
		started:    time.Now(),
		budget:     budget{limit: cfg.MaxInflightBytes},
		auth:       newAuthLimiter(authBurst, authRefill),
		serverLogs: logLimiter{perSecond: 10},
	}
	a.feedback = newFeedbackState(cfg.FeedbackWindow, cfg.FeedbackMemoryRows, a.metrics)
	a.metrics.observeLimits(a)
	a.tokenHash = sha256.Sum256([]byte(cfg.AdminToken))
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	a.reqPrefix = hex.EncodeToString(rnd[:])
	a.pool.New = func() any { return new(predict.Buffers) }
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

// routes is an exact-path router: no path cleaning, so "//predict" is a JSON 404 rather
// than net/http's 307 redirect.
type routes map[string]http.Handler

func (rt routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := rt[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	rt[""].ServeHTTP(w, r)
}

// publicHandler serves the prediction API, probes and metrics.
func (a *app) publicHandler() http.Handler {
	metrics := promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{})
	rt := routes{
		"/predict":  a.route("predict", http.MethodPost, a.handlePredict),
		"/feedback": a.route("feedback", http.MethodPost, a.handleFeedback),
		"/health":   a.route("health", http.MethodGet, a.handleHealth),
		"/healthz":  a.route("health", http.MethodGet, a.handleHealth),
		"/ready":    a.route("ready", http.MethodGet, a.handleReady),
		"/readyz":   a.route("ready", http.MethodGet, a.handleReady),
		"/v1/model": a.route("model", http.MethodGet, a.handleModel),
		"/metrics": a.route("metrics", http.MethodGet, func(w *respWriter, r *http.Request) {
			metrics.ServeHTTP(w, r)
		}),
		"": a.route("not_found", "", a.handleNotFound),
	}
	for _, p := range adminPaths {
		rt[p] = a.route("not_found", "", func(w *respWriter, r *http.Request) {
			a.writeError(w, predict.Errorf(http.StatusNotFound, predict.CodeNotFound,
				"%s is served on the admin listener (ADMIN_ADDR), not on this port", r.URL.Path))
		})
	}
	return rt
}

// adminHandler serves /admin/* on the admin listener.
func (a *app) adminHandler() http.Handler {
	return routes{
		"/admin/reload":   a.route("admin_reload", http.MethodPost, a.admin(a.handleReload)),
		"/admin/rollback": a.route("admin_rollback", http.MethodPost, a.admin(a.handleRollback)),
		"/admin/unpin":    a.route("admin_unpin", http.MethodPost, a.admin(a.handleUnpin)),
		"":                a.route("not_found", "", a.handleNotFound),
	}
}

var adminPaths = []string{"/admin/reload", "/admin/rollback", "/admin/unpin"}

func (a *app) handleNotFound(w *respWriter, r *http.Request) {
	a.writeError(w, predict.NotFound(r.URL.Path))
}

// respWriter records what the access log and the metrics need.
type respWriter struct {
	http.ResponseWriter
	status  int
	rows    int
	version string
	errCode string
	shape   *[2]int // rows x columns of a parsed /predict or /feedback body
	cause   error   // of a 5xx
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

// route wraps a handler with the method check, metrics, request id, read deadline, drain
// behaviour, panic guard and access log.
func (a *app) route(name, method string, h func(*respWriter, *http.Request)) http.Handler {
	latency := a.metrics.latency.WithLabelValues(name)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		a.metrics.inflight.Inc()
		if c, ok := r.Context().Value(connKey{}).(*guardedConn); ok {
			c.enterHandler()
			defer c.leaveHandler()
		}
		w := &respWriter{ResponseWriter: rw}
		id := requestID(r.Header.Get("X-Request-Id"))
		if id == "" {
			id = a.reqPrefix + "-" + strconv.FormatUint(a.reqSeq.Add(1), 36)
		}
		w.Header().Set("X-Request-Id", id)
		if a.shuttingDown.Load() {
			// Draining: answer, then close, so keep-alive clients reconnect (elsewhere)
			// instead of racing the listener's close with their next request.
			w.Header().Set("Connection", "close")
		}
		// Bounds the time to receive the body (slow clients hold memory); bodyRead lifts it.
		if r.ContentLength != 0 {
			_ = http.NewResponseController(rw).SetReadDeadline(start.Add(a.cfg.BodyReadTimeout))
		}
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				a.log.Error("panic in handler", "handler", name, "request_id", id, "panic", fmt.Sprint(p),
					"stack", string(debug.Stack()))
				if w.status == 0 {
					a.writeError(w, predict.Errorf(http.StatusInternalServerError, predict.CodeInternal, "internal error"))
				}
			}
			a.metrics.inflight.Dec()
			if w.status == 0 {
				w.status = http.StatusOK
			}
			d := time.Since(start)
			latency.Observe(d.Seconds())
			a.metrics.requests.WithLabelValues(name, strconv.Itoa(w.status)).Inc()
			// 5xx are always logged, except 503s (capacity sheds, a draining /ready: counted in
			// the metrics; logging each would add work exactly when there is too much).
			if (w.status >= 500 && w.status != http.StatusServiceUnavailable) || a.cfg.AccessLog {
				a.logRequest(r, w, id, d)
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's way to abort a response: let it through
			}
		}()
		if method != "" && r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			a.writeError(w, predict.MethodNotAllowed(r.Method, r.URL.Path, method))
			return
		}
		h(w, r)
	})
}

// bodyRead lifts the body deadline once the body is in: a handler that then waits (for a
// load) must not have net/http's background read time out and cancel the request.
func bodyRead(w *respWriter) {
	_ = http.NewResponseController(w.ResponseWriter).SetReadDeadline(time.Time{})
}

// logRequest is the access log line, with the deployment guide's structured fields for
// predictions: request_id, model_version, input_shape, latency_seconds, predictions_count.
func (a *app) logRequest(r *http.Request, w *respWriter, id string, d time.Duration) {
	level := slog.LevelInfo
	if w.status >= 500 && w.status != http.StatusServiceUnavailable {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("request_id", id), slog.String("method", r.Method),
		slog.String("path", predict.Truncate(r.URL.Path, 200)), slog.Int("status", w.status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.Float64("latency_seconds", d.Seconds()),
		slog.String("remote", r.RemoteAddr),
	}
	if w.version != "" {
		attrs = append(attrs, slog.String("model_version", w.version))
	}
	if w.shape != nil {
		attrs = append(attrs, slog.Any("input_shape", w.shape[:]))
	}
	if w.rows > 0 {
		attrs = append(attrs, slog.Int("rows", w.rows))
		if w.status == http.StatusOK {
			attrs = append(attrs, slog.Int("predictions_count", w.rows))
		}
	}
	if w.errCode != "" {
		attrs = append(attrs, slog.String("error", w.errCode))
	}
	if w.cause != nil {
		attrs = append(attrs, slog.String("cause", w.cause.Error()))
	}
	a.log.LogAttrs(r.Context(), level, "request", attrs...)
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

func (a *app) writeError(w *respWriter, e *predict.Error) {
	w.errCode = e.Code
	if e.Cause != nil {
		w.cause = e.Cause
	}
	writeJSONBytes(w, e.Status, e.Body())
}

func (a *app) writeJSON(w *respWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.writeError(w, &predict.Error{Status: http.StatusInternalServerError, Code: predict.CodeInternal,
			Message: "encoding the answer failed", Cause: err})
		return
	}
	writeJSONBytes(w, status, append(body, '\n'))
}

// Header values shared by every JSON answer (net/http only reads them; a later Add would
// copy, since each slice is full).
var (
	headerJSON    = []string{"application/json"}
	headerNoStore = []string{"no-store"}
	headerNoSniff = []string{"nosniff"}
)

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Cache-Control"] = headerNoStore
	h["X-Content-Type-Options"] = headerNoSniff
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (a *app) newServer(h http.Handler, ctx context.Context) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		// No whole-request ReadTimeout: route sets BODY_READ_TIMEOUT per request.
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnState:      connState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if gc, ok := c.(*guardedConn); ok {
				return context.WithValue(ctx, connKey{}, gc)
			}
			return ctx
		},
	}
}

// serve runs the public server on ln (and the admin server on adminLn, if not nil) until ctx
// is cancelled, then shuts down gracefully: /ready turns 503 and every answer carries
// Connection: close for DRAIN_DELAY, then the listeners close, in-flight requests finish (up
// to SHUTDOWN_TIMEOUT, whatever a model load is doing), and the models are released.
func (a *app) serve(ctx context.Context, ln, adminLn net.Listener) error {
	servers := []*http.Server{a.newServer(a.publicHandler(), ctx)}
	listeners := []*guardedListener{a.guard(ln, a.cfg.MaxConnections)}
	if adminLn != nil {
		servers = append(servers, a.newServer(a.adminHandler(), ctx))
		listeners = append(listeners, a.guard(adminLn, maxAdminConnections))
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	attrs := []any{"addr", ln.Addr().String(), "model_version", versionOf(a.reg.Current())}
	if adminLn != nil {
		attrs = append(attrs, "admin_addr", adminLn.Addr().String())
	}
	a.log.Info("listening", attrs...)
	select {
	case err := <-errc:
		for _, srv := range servers {
			_ = srv.Close()
		}
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
	a.reg.Stop() // admin requests waiting for a load answer now; no new load starts
	deadline, _ := sctx.Deadline()
	for _, l := range listeners {
		_ = l.Close() // no new connections; Serve returns
	}
	for _, l := range listeners {
		l.waitNewConns(deadline)
	}
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// net.ErrClosed: the listener closed above; Shutdown has still waited for the
			// connections.
			if errs[i] = srv.Shutdown(sctx); errors.Is(errs[i], net.ErrClosed) {
				errs[i] = nil
			}
			if errs[i] != nil {
				_ = srv.Close()
			}
		}()
	}
	wg.Wait()
	a.reg.Close() // models are freed after their last request
	err := errors.Join(errs...)
	if errors.Is(err, context.DeadlineExceeded) {
		err = context.DeadlineExceeded
	}
	if err != nil {
		a.log.Error("shutdown timed out; closed the remaining connections", "error", err.Error())
	}
	for range servers {
		<-errc // net.ErrClosed: the listeners were closed above
	}
	a.log.Info("stopped")
	return err
}
