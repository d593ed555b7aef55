package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// net/http answers some requests itself, before any handler runs: a malformed request line
// or header (400), headers over MaxHeaderBytes (431), an unknown transfer coding (501), an
// unsupported Expect (417); and on a header read timeout it just hangs up. Those answers are
// plain text and reach neither the log nor the metrics. guardedConn sits between net/http
// and the socket and replaces each with the service's JSON error, counted and logged; it also
// answers a header timeout with a JSON 408. guardedListener caps open connections.

// maxAdminConnections caps connections on the admin listener.
const maxAdminConnections = 64

type connKey struct{}

// serverErrorHeaders is what net/http writes after the status line of its own plain-text
// error answers (net/http/server.go, conn.serve); no handler of ours writes it.
var serverErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

type guardedListener struct {
	net.Listener
	a       *app
	max     int64
	open    atomic.Int64
	newConn atomic.Int64 // accepted connections whose first request has not been read yet
}

func (a *app) guard(ln net.Listener, max int) *guardedListener {
	return &guardedListener{Listener: ln, a: a, max: int64(max)}
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.a.metrics.shed.WithLabelValues("connections").Inc()
			e := predict.Errorf(http.StatusServiceUnavailable, codeTooManyConnections,
				"more than %d open connections (MAX_CONNECTIONS): retry later", l.max)
			l.a.serverRejected(c.RemoteAddr().String(), e)
			writeRaw(c, e, time.Second)
			_ = c.Close()
			continue
		}
		gc := &guardedConn{Conn: c, l: l}
		gc.counted.Store(true)
		l.newConn.Add(1)
		return gc, nil
	}
}

// connState tracks connections still waiting for their first request (http.Server.ConnState).
func connState(c net.Conn, s http.ConnState) {
	if gc, ok := c.(*guardedConn); ok && s != http.StateNew && gc.counted.CompareAndSwap(true, false) {
		gc.l.newConn.Add(-1)
	}
}

// waitNewConns waits until every accepted connection has had its first request read (or has
// closed), or until the deadline. net/http's Shutdown drops a request that arrives on a fresh
// connection after it starts, so it must only start once the listener is closed and no
// accepted connection is still on its way to a first request.
func (l *guardedListener) waitNewConns(deadline time.Time) {
	for l.newConn.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

type guardedConn struct {
	net.Conn
	l *guardedListener

	counted atomic.Bool // still counted in newConn

	mu        sync.Mutex
	inHandler bool
	pending   int  // bytes read outside a handler: the headers of the next request
	replaced  bool // an answer of net/http itself was replaced: drop what follows
	closeOnce sync.Once
}

func (c *guardedConn) enterHandler() {
	c.mu.Lock()
	c.inHandler, c.pending = true, 0
	c.mu.Unlock()
}

func (c *guardedConn) leaveHandler() {
	c.mu.Lock()
	c.inHandler = false
	c.mu.Unlock()
}

func (c *guardedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if !c.inHandler {
		c.pending += n
	}
	// A timeout with part of a request received and no handler running: the headers did
	// not arrive within ReadHeaderTimeout (an idle keep-alive timeout has nothing pending).
	slow := err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !c.inHandler && c.pending > 0 && !c.replaced
	if slow {
		c.replaced = true
	}
	c.mu.Unlock()
	if slow {
		e := predict.Errorf(http.StatusRequestTimeout, codeRequestTimeout,
			"the request headers did not arrive within %s", readHeaderTimeout)
		c.l.a.serverRejected(c.RemoteAddr().String(), e)
		writeRaw(c.Conn, e, time.Second)
	}
	return n, err
}

func (c *guardedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	replaced := c.replaced
	var e *predict.Error
	if !replaced && !c.inHandler {
		if e = serverAnswer(b); e != nil {
			c.replaced = true
		}
	}
	c.mu.Unlock()
	switch {
	case replaced:
		return len(b), nil // net/http closes the connection after its own answers
	case e != nil:
		c.l.a.serverRejected(c.RemoteAddr().String(), e) // before the client can see the answer
		writeRaw(c.Conn, e, time.Second)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// serverAnswer recognises an error answer written by net/http itself and returns the JSON
// error that replaces it (nil for anything else).
func serverAnswer(b []byte) *predict.Error {
	const prefix = "HTTP/1.1 "
	if len(b) < len(prefix)+3 || string(b[:len(prefix)]) != prefix {
		return nil
	}
	status, err := strconv.Atoi(string(b[len(prefix) : len(prefix)+3]))
	if err != nil || status < 400 {
		return nil
	}
	msg := http.StatusText(status)
	if i := bytes.Index(b, serverErrorHeaders); i >= 0 {
		if text := bytes.TrimSpace(b[i+len(serverErrorHeaders):]); len(text) > 0 {
			msg = string(text)
		}
	} else if status != http.StatusExpectationFailed {
		return nil
	}
	code := map[int]string{
		http.StatusBadRequest:                  codeBadRequest,
		http.StatusRequestHeaderFieldsTooLarge: codeHeaderTooLarge,
		http.StatusNotImplemented:              codeNotImplemented,
		http.StatusExpectationFailed:           codeExpectationFailed,
		http.StatusHTTPVersionNotSupported:     codeHTTPVersion,
	}[status]
	if code == "" {
		code = codeBadRequest
	}
	return predict.Errorf(status, code, "%s", predict.Truncate(msg, 300))
}

// writeRaw writes a complete JSON error answer on a connection that then closes.
func writeRaw(c net.Conn, e *predict.Error, timeout time.Duration) {
	body := e.Body()
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n")
	if e.Status == http.StatusServiceUnavailable {
		b.WriteString("Retry-After: 1\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	_, _ = c.Write(b.Bytes())
}

// serverRejected counts and logs an answer given outside the handlers (called before the
// answer is written, so a client that saw it also sees it counted).
func (a *app) serverRejected(remote string, e *predict.Error) {
	a.metrics.requests.WithLabelValues("server", strconv.Itoa(e.Status)).Inc()
	if ok, suppressed := a.serverLogs.allow(time.Now()); ok {
		attrs := []any{"status", e.Status, "error", e.Code, "message", e.Message, "remote", remote}
		if suppressed > 0 {
			attrs = append(attrs, "suppressed_before", suppressed)
		}
		a.log.Warn("request rejected before routing", attrs...)
	}
}
