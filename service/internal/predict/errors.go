// Package predict is what every thetatree front end shares: the /predict request parser and
// its validation rules, the JSON answer and error encodings, and the transport checks
// (content type, body size) that apply before parsing. thetatree-serve (HTTP) and
// thetatree-lambda (API Gateway events) both call it, so a body gets the same answer, byte
// for byte, from either.
package predict

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is every 4xx/5xx answer: {"error": {...}}. Row and Column are 0-based and present
// only when the problem is located in one cell/row; Feature names the column when known;
// Offset is a byte offset in the body, for JSON syntax errors.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Row     *int   `json:"row,omitempty"`
	Column  *int   `json:"column,omitempty"`
	Feature string `json:"feature,omitempty"`
	Offset  *int   `json:"offset,omitempty"`
	// Cause is the underlying error of a 5xx, for the server's log only (never sent).
	Cause error `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// Body is the error's JSON answer, newline-terminated.
func (e *Error) Body() []byte {
	b, err := json.Marshal(struct {
		Error *Error `json:"error"`
	}{e})
	if err != nil { // cannot happen: only strings and ints
		return []byte(`{"error":{"code":"internal","message":"encoding the error failed"}}` + "\n")
	}
	return append(b, '\n')
}

// Errorf builds an error answer without a position.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func intp(v int) *int { return &v }

// Error codes (stable: clients, the metrics and the logs use them).
const (
	CodeInvalidJSON      = "invalid_json"
	CodeTooDeep          = "json_too_deep"
	CodeBodyTooLarge     = "body_too_large"
	CodeTooManyRows      = "too_many_rows"
	CodeBadShape         = "bad_request_shape"
	CodeUnknownField     = "unknown_field"
	CodeWrongWidth       = "wrong_width"
	CodeBadValue         = "bad_value"
	CodeBadLabel         = "bad_label"
	CodeUnknownFeature   = "unknown_feature"
	CodeDuplicateFeature = "duplicate_feature"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeNoModel          = "no_model"
	CodeOverloaded       = "overloaded"
	CodeMethod           = "method_not_allowed"
	CodeNotFound         = "not_found"
	CodeInternal         = "internal"
	CodeBadOption        = "bad_option" // "explain" or "top_k" with a wrong value
)

// MethodNotAllowed is the answer to a request with the wrong method.
func MethodNotAllowed(method, path, want string) *Error {
	return Errorf(http.StatusMethodNotAllowed, CodeMethod, "%s %s: use %s", method, Truncate(path, 200), want)
}

// NotFound is the answer to a path no handler serves.
func NotFound(path string) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, "no such endpoint: %s", Truncate(path, 200))
}
