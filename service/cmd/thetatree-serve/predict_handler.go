package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// maxPooledBytes: request buffers larger than this are dropped after the request rather than
// pooled, so memory held between requests stays small (the budget counts only requests in
// flight).
const maxPooledBytes = 256 << 10

// perRowAnswerBytes bounds what one predicted row costs beyond its input: its label, two
// probabilities and its share of the JSON answer.
const perRowAnswerBytes = 4 + 16 + 64

// request is a body received within the limits, with the memory it holds.
type request struct {
	a     *app
	buf   *predict.Buffers
	body  []byte
	lease lease
}

func (q *request) done() {
	q.lease.done()
	q.a.concurrent.Add(-1)
	if q.buf.Size() <= maxPooledBytes {
		q.a.pool.Put(q.buf)
	}
}

// limits are the parse limits with a reserve hook that charges the parsed matrix to the
// request.
func (q *request) limits(lim predict.Limits) predict.Limits {
	lim.Reserve = func(n int) bool { return q.lease.grow(int64(n)) }
	return lim
}

// receive admits a request with a JSON body: the concurrency cap, the content type, the
// size limit and the memory budget, then reads the body (within BODY_READ_TIMEOUT, set by
// route). On refusal it has answered and returns nil.
func (a *app) receive(w *respWriter, r *http.Request) *request {
	if n := a.concurrent.Add(1); n > int64(a.cfg.MaxConcurrent) {
		a.concurrent.Add(-1)
		a.shed(w, "concurrency", predict.Errorf(http.StatusServiceUnavailable, codeOverloaded,
			"more than %d requests in progress (MAX_CONCURRENT_REQUESTS): retry later", a.cfg.MaxConcurrent))
		return nil
	}
	q := &request{a: a, buf: a.pool.Get().(*predict.Buffers), lease: lease{b: &a.budget}}
	if e := predict.CheckContentType(r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding")); e != nil {
		q.done()
		a.rejectInput(w, e)
		return nil
	}
	if r.ContentLength > a.cfg.MaxBodyBytes {
		q.done()
		a.rejectInput(w, predict.BodyTooLarge(r.ContentLength, a.cfg.MaxBodyBytes))
		return nil
	}
	if e := q.read(r); e != nil {
		q.done()
		if e.Code == codeOverloaded {
			a.shed(w, "memory", e)
		} else {
			a.rejectInput(w, e)
		}
		return nil
	}
	bodyRead(w)
	return q
}

// read reads the body into the request's buffer, reserving its bytes first: all of them when
// the length is declared, chunk by chunk otherwise.
func (q *request) read(r *http.Request) *predict.Error {
	limit := q.a.cfg.MaxBodyBytes
	body := http.MaxBytesReader(nil, r.Body, limit)
	overloaded := func() *predict.Error {
		return predict.Errorf(http.StatusServiceUnavailable, codeOverloaded,
			"the request memory budget (MAX_INFLIGHT_BYTES) is in use: retry later")
	}
	buf := q.buf.Body[:0]
	if n := r.ContentLength; n >= 0 {
		if !q.lease.grow(n) {
			return overloaded()
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(body, buf); err != nil {
			return readError(err, limit)
		}
		q.body, q.buf.Body = buf, buf
		return nil
	}
	if !q.lease.grow(int64(cap(buf))) {
		return overloaded()
	}
	for {
		if len(buf) == cap(buf) {
			grown := min(max(2*int64(cap(buf)), 16<<10), limit+1)
			if !q.lease.grow(grown - int64(cap(buf))) {
				return overloaded()
			}
			nb := make([]byte, len(buf), grown)
			copy(nb, buf)
			buf = nb
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			q.body, q.buf.Body = buf, buf
			return nil
		}
		if err != nil {
			return readError(err, limit)
		}
	}
}

func readError(err error, limit int64) *predict.Error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return predict.BodyTooLarge(-1, limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return predict.Errorf(http.StatusRequestTimeout, codeBodyTimeout,
			"the request body did not arrive within BODY_READ_TIMEOUT")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return predict.Errorf(http.StatusBadRequest, predict.CodeInvalidJSON,
			"the request body ended before its declared Content-Length")
	}
	return predict.Errorf(http.StatusBadRequest, predict.CodeInvalidJSON, "could not read the request body: %v", err)
}

// shed refuses a request for lack of capacity: 503 with Retry-After, counted by reason.
func (a *app) shed(w *respWriter, reason string, e *predict.Error) {
	a.metrics.shed.WithLabelValues(reason).Inc()
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Connection", "close") // the unread body is not worth draining
	a.writeError(w, e)
}

func (a *app) handlePredict(w *respWriter, r *http.Request) {
	q := a.receive(w, r)
	if q == nil {
		return
	}
	defer q.done()
	// From here on the request uses exactly one model version, whatever reloads happen.
	s := a.reg.Acquire()
	if s == nil {
		a.writeError(w, predict.Errorf(http.StatusServiceUnavailable, predict.CodeNoModel, "no model is loaded"))
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
	w.version = s.Version
	answer, rows, e := a.predict(q, s, w)
	if e != nil {
		a.rejectInput(w, e)
		return
	}
	release() // the answer is encoded: the model may go
	a.metrics.rows.Add(float64(rows))
	a.metrics.rowsPerReq.Observe(float64(rows))
	if id := w.Header().Get("X-Request-Id"); rows > 0 {
		a.feedback.remember(id, s.Version, q.buf)
	}
	writeJSONBytes(w, http.StatusOK, answer)
}

// predict parses and predicts, charging the parsed rows and the answer to the request's
// memory budget.
func (a *app) predict(q *request, s *servedModel, w *respWriter) ([]byte, int, *predict.Error) {
	p, e := predict.Parse(s.Model, q.body, q.limits(a.lim), q.buf)
	if p.Rows() > 0 {
		w.shape = &[2]int{p.Rows(), s.NFeatures}
		w.rows = p.Rows()
	}
	if e != nil {
		return nil, p.Rows(), e
	}
	perRow := int64(perRowAnswerBytes)
	if p.Explain() {
		perRow += int64(s.Model.ExplainRowBytes(p.TopK()))
	}
	need := int64(p.Rows())*perRow + 256
	if p.Explain() && need > a.budget.limit/2 {
		// Retrying would never help: the answer alone would take (most of) the whole budget.
		return nil, p.Rows(), predict.Errorf(http.StatusRequestEntityTooLarge, predict.CodeTooManyRows,
			"explaining %d rows needs up to %d bytes of answer, more than half of MAX_INFLIGHT_BYTES (%d): send fewer rows per request",
			p.Rows(), need, a.budget.limit)
	}
	if !q.lease.grow(need) {
		return nil, p.Rows(), predict.Errorf(http.StatusServiceUnavailable, codeOverloaded,
			"the request memory budget (MAX_INFLIGHT_BYTES) is in use: retry later")
	}
	return predict.Answer(s.Model, p, q.buf)
}

// rejectInput answers a request the client got wrong (or that could not be served: 5xx),
// counted by code.
func (a *app) rejectInput(w *respWriter, e *predict.Error) {
	if e.Status < 500 {
		a.metrics.inputErrors.WithLabelValues(e.Code).Inc()
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(1))
	}
	a.writeError(w, e)
}
