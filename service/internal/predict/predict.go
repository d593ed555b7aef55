package predict

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// Buffers are the reusable buffers of one request (pool them between requests).
type Buffers struct {
	Body    []byte // the transport's body buffer
	x       []int8
	seen    []uint32
	labels  []int32
	proba   []float64
	out     []byte
	parser  Parser
	n       int // rows of the last Run
	memo    FloatMemo
	explain explainBuffers
}

// Predicted are the labels of the last Run (valid until the buffers are reused).
func (b *Buffers) Predicted() []int32 { return b.labels[:b.n] }

// Size is the bytes the buffers hold, to decide whether pooling them is worth their memory.
func (b *Buffers) Size() int {
	return cap(b.Body) + cap(b.x) + 4*cap(b.seen) + 4*cap(b.labels) + 8*cap(b.proba) + cap(b.out) +
		cap(b.parser.labels) + 4*cap(b.explain.path) + 4*cap(b.explain.top) + 8*cap(b.explain.contrib)
}

// Parse parses body for model m. The parser (rows, labels, ids) is valid until b is reused.
func Parse(m *Model, body []byte, lim Limits, b *Buffers) (*Parser, *Error) {
	p := &b.parser
	p.Reset(body, m, lim, b.x, b.seen)
	err := p.Parse()
	b.x, b.seen = p.x, p.seen
	return p, err
}

// Run predicts the parsed rows: one label and two probabilities per row, valid until b is
// reused.
func Run(m *Model, p *Parser, b *Buffers) ([]int32, []float64, *Error) {
	n := p.rows
	if cap(b.labels) < n {
		b.labels = make([]int32, n)
	}
	if cap(b.proba) < 2*n {
		b.proba = make([]float64, 2*n)
	}
	labels, proba := b.labels[:n], b.proba[:2*n]
	b.n = 0
	if n == 0 {
		return labels, proba, nil
	}
	if err := m.Lib.PredictInto(p.x, n, labels); err != nil {
		return nil, nil, libraryError(err)
	}
	if err := m.Lib.PredictProbaInto(p.x, n, proba); err != nil {
		return nil, nil, libraryError(err)
	}
	b.n = n
	return labels, proba, nil
}

// Predict answers one /predict body with model m: the JSON answer (valid until b is reused)
// and the number of rows predicted.
func Predict(m *Model, body []byte, lim Limits, b *Buffers) ([]byte, int, *Error) {
	lim.Feedback = false
	p, err := Parse(m, body, lim, b)
	if err != nil {
		return nil, p.rows, err
	}
	return Answer(m, p, b)
}

// Answer predicts the rows parsed by p and encodes the answer (valid until b is reused),
// with the explanations if the body asked for them.
func Answer(m *Model, p *Parser, b *Buffers) ([]byte, int, *Error) {
	labels, proba, err := Run(m, p, b)
	if err != nil {
		return nil, p.rows, err
	}
	if !p.explain {
		b.out = AppendAnswer(b.out[:0], labels, proba, m, &b.memo)
		return b.out, p.rows, nil
	}
	out := appendPredictions(b.out[:0], labels, proba, &b.memo)
	if out, err = m.appendExplanations(out, p, b); err != nil {
		return nil, p.rows, err
	}
	b.out = appendModel(out, m)
	return b.out, p.rows, nil
}

// libraryError maps a library error during prediction. Input is validated before the call,
// so an input error here is still the client's (400 naming row and column); anything else
// is ours (500, the cause kept for the log).
func libraryError(err error) *Error {
	var te *thetatree.Error
	if errors.As(err, &te) && (errors.Is(err, thetatree.ErrInputValue) || errors.Is(err, thetatree.ErrShape)) {
		e := &Error{Status: http.StatusBadRequest, Code: CodeBadValue, Message: te.Message}
		if errors.Is(err, thetatree.ErrShape) {
			e.Code = CodeWrongWidth
		}
		if te.Row >= 0 {
			e.Row = intp(int(te.Row))
		}
		if te.Column >= 0 {
			e.Column = intp(int(te.Column))
		}
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "prediction failed", Cause: err}
}

// CheckContentType accepts a body only when it is declared as uncompressed JSON:
// Content-Type application/json (charset, if given, utf-8) and no Content-Encoding other
// than identity. Anything else is 415: a form post or a text/plain body is not parsed as
// JSON by accident, and a gzip body is not parsed as garbage.
func CheckContentType(contentType, contentEncoding string) *Error {
	if ce := strings.TrimSpace(contentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"Content-Encoding %q is not supported: send the body uncompressed", Truncate(ce, 100))
	}
	if contentType == "application/json" || contentType == "application/json; charset=utf-8" {
		return nil // the common spellings, without parsing
	}
	if strings.TrimSpace(contentType) == "" {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"no Content-Type: send the body as application/json")
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"Content-Type %q is malformed: send application/json", Truncate(contentType, 100))
	}
	if mt != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"Content-Type %s is not accepted: send application/json", Truncate(mt, 100))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"charset %q is not accepted: JSON bodies are UTF-8", Truncate(cs, 100))
	}
	return nil
}

// BodyTooLarge is the 413 answer for a body of n bytes over limit (n < 0: unknown length,
// cut at the limit).
func BodyTooLarge(n, limit int64) *Error {
	if n < 0 {
		return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			"request body exceeds the limit of %d bytes", limit)
	}
	return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
		"request body of %d bytes exceeds the limit of %d", n, limit)
}

// Shape describes a parsed request for the logs: [rows, columns], as the guide's
// input_shape.
func Shape(rows int, m *Model) [2]int {
	if m == nil {
		return [2]int{rows, 0}
	}
	return [2]int{rows, m.NFeatures}
}
