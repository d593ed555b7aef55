package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// Failed admin tokens are rate-limited per client address: a burst of authBurst failures,
// then one more per authRefill. A limited client gets 429 even with the right token (else
// the limit would not slow guessing), until Retry-After.
const (
	authBurst        = 5
	authRefill       = 10 * time.Second
	maxAuthClients   = 4096
	maxAdminBodySize = 4096
)

type authLimiter struct {
	burst   float64
	refill  time.Duration
	mu      sync.Mutex
	clients map[string]*authBucket
}

type authBucket struct {
	tokens  float64
	last    time.Time
	limited int // attempts refused since the client was limited
}

func newAuthLimiter(burst int, refill time.Duration) *authLimiter {
	return &authLimiter{burst: float64(burst), refill: refill, clients: map[string]*authBucket{}}
}

func (l *authLimiter) bucket(client string, now time.Time) *authBucket {
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= maxAuthClients {
			for k, v := range l.clients { // forget clients that have recovered
				if l.level(v, now) >= l.burst {
					delete(l.clients, k)
				}
			}
			if len(l.clients) >= maxAuthClients {
				clear(l.clients)
			}
		}
		b = &authBucket{tokens: l.burst, last: now}
		l.clients[client] = b
	}
	b.tokens, b.last = l.level(b, now), now
	return b
}

func (l *authLimiter) level(b *authBucket, now time.Time) float64 {
	return math.Min(l.burst, b.tokens+float64(now.Sub(b.last))/float64(l.refill))
}

// check reports whether client may try a token now; if not, how long until it may, and
// whether this is the first refusal of its limited streak (logged).
func (l *authLimiter) check(client string, now time.Time) (ok bool, wait time.Duration, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(client, now)
	if b.tokens >= 1 {
		return true, 0, false
	}
	b.limited++
	return false, time.Duration((1 - b.tokens) * float64(l.refill)), b.limited == 1
}

// fail charges one failed attempt; it returns the attempts left before the client is limited.
func (l *authLimiter) fail(client string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(client, now)
	b.tokens--
	b.limited = 0
	return int(math.Max(0, math.Floor(b.tokens)))
}

func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// admin guards the admin endpoints with the bearer token (constant-time comparison) and the
// per-client failure limit. Every failed token is logged, whatever ACCESS_LOG says.
func (a *app) admin(h func(*respWriter, *http.Request)) func(*respWriter, *http.Request) {
	return func(w *respWriter, r *http.Request) {
		if a.cfg.AdminToken == "" {
			a.writeError(w, predict.Errorf(http.StatusForbidden, codeAdminDisabled,
				"the admin API is disabled: set ADMIN_TOKEN (or send SIGHUP to reload)"))
			return
		}
		client, now := clientOf(r), time.Now()
		if ok, wait, first := a.auth.check(client, now); !ok {
			a.metrics.authFailures.WithLabelValues("rate_limited").Inc()
			if first {
				a.log.Warn("admin authentication rate limited", "remote", r.RemoteAddr, "path", r.URL.Path,
					"retry_after_s", math.Ceil(wait.Seconds()))
			}
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			a.writeError(w, predict.Errorf(http.StatusTooManyRequests, codeAuthLimited,
				"too many failed admin tokens from %s: retry in %.0f s", client, math.Ceil(wait.Seconds())))
			return
		}
		auth := r.Header.Get("Authorization")
		const prefix = "Bearer "
		reason := "missing"
		if len(auth) > len(prefix) && strings.EqualFold(auth[:len(prefix)], prefix) {
			got := sha256.Sum256([]byte(auth[len(prefix):]))
			if subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1 {
				h(w, r)
				return
			}
			reason = "wrong"
		}
		left := a.auth.fail(client, now)
		a.metrics.authFailures.WithLabelValues(reason + "_token").Inc()
		a.log.Warn("admin authentication failed", "remote", r.RemoteAddr, "path", r.URL.Path,
			"token", reason, "attempts_left", left)
		w.Header().Set("WWW-Authenticate", `Bearer realm="thetatree-serve admin"`)
		a.writeError(w, predict.Errorf(http.StatusUnauthorized, codeUnauthorized, "missing or wrong bearer token"))
	}
}

type adminAnswer struct {
	Error *predict.Error `json:"error,omitempty"`
	ReloadResult
}

func (a *app) handleReload(w *respWriter, r *http.Request) {
	var req struct {
		Version string `json:"version"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w.ResponseWriter, r.Body, maxAdminBodySize))
	if err != nil {
		a.writeError(w, predict.Errorf(http.StatusBadRequest, predict.CodeInvalidJSON, "could not read the body: %v", err))
		return
	}
	bodyRead(w)
	if len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			a.writeError(w, predict.Errorf(http.StatusBadRequest, predict.CodeInvalidJSON,
				`body must be empty or {"version": "<name>"}: %v`, err))
			return
		}
	}
	res, err := a.reg.Reload(req.Version)
	a.log.Info("reload requested", "source", "admin", "requested", req.Version, "status", res.Status,
		"version", res.Version, "pinned", res.Pinned, "refused", len(res.Refused), "error", errString(err))
	a.answerAdmin(w, res, err, codeReloadRefused)
}

func (a *app) handleUnpin(w *respWriter, r *http.Request) {
	res, err := a.reg.Unpin()
	a.log.Info("unpin requested", "source", "admin", "status", res.Status, "version", res.Version,
		"refused", len(res.Refused), "error", errString(err))
	a.answerAdmin(w, res, err, codeReloadRefused)
}

func (a *app) handleRollback(w *respWriter, r *http.Request) {
	res, err := a.reg.Rollback()
	a.log.Info("rollback requested", "source", "admin", "status", res.Status, "version", res.Version,
		"error", errString(err))
	a.answerAdmin(w, res, err, codeRollbackRefused)
}

// answerAdmin maps a reload/rollback outcome to its status: the caller's mistakes are 4xx
// without being counted as reload failures; a refused version is 409.
func (a *app) answerAdmin(w *respWriter, res ReloadResult, err error, refusedCode string) {
	status, code := http.StatusOK, ""
	switch {
	case errors.Is(err, errInvalidVersionNm):
		status, code = http.StatusBadRequest, codeInvalidVersion
	case errors.Is(err, errUnknownVersion):
		status, code = http.StatusNotFound, codeUnknownVersion
	case errors.Is(err, errBusy):
		status, code = http.StatusConflict, codeReloadBusy
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, errLoadTimeout):
		status, code = http.StatusGatewayTimeout, codeLoadTimeout
	case errors.Is(err, errSuperseded):
		status, code = http.StatusConflict, codeReloadSuperseded
	case errors.Is(err, errRegistryClosed):
		status, code = http.StatusServiceUnavailable, codeShuttingDown
	case err != nil:
		status, code = http.StatusConflict, refusedCode
	case res.Status == "refused":
		status, code = http.StatusConflict, refusedCode
		err = fmt.Errorf("new version refused; still serving %s", res.Version)
	}
	if code == "" {
		a.writeJSON(w, status, adminAnswer{nil, res})
		return
	}
	w.errCode = code
	a.writeJSON(w, status, adminAnswer{&predict.Error{Code: code, Message: err.Error()}, res})
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
