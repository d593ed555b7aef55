package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// apiError is every 4xx/5xx answer: {"error": {...}}. Row and Column are 0-based and present
// only when the problem is located in one cell/row; Feature names the column when known.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Row     *int   `json:"row,omitempty"`
	Column  *int   `json:"column,omitempty"`
	Feature string `json:"feature,omitempty"`
	Offset  *int   `json:"offset,omitempty"` // byte offset in the body, for JSON syntax errors
}

func (e *apiError) Error() string { return e.Message }

func intp(v int) *int { return &v }

// Error codes of /predict (stable: clients and the metrics use them).
const (
	codeInvalidJSON     = "invalid_json"
	codeTooDeep         = "json_too_deep"
	codeBodyTooLarge    = "body_too_large"
	codeTooManyRows     = "too_many_rows"
	codeBadShape        = "bad_request_shape"
	codeUnknownField    = "unknown_field"
	codeWrongWidth      = "wrong_width"
	codeBadValue        = "bad_value"
	codeUnknownFeature  = "unknown_feature"
	codeDuplicateFeat   = "duplicate_feature"
	codeNoModel         = "no_model"
	codeMethod          = "method_not_allowed"
	codeNotFound        = "not_found"
	codeUnauthorized    = "unauthorized"
	codeAdminDisabled   = "admin_disabled"
	codeInternal        = "internal"
	codeShuttingDown    = "shutting_down"
	codeReloadRefused   = "reload_refused"
	codeRollbackRefused = "rollback_refused"
)

// parseLimits are the request limits (see Config).
type parseLimits struct {
	maxRows       int
	maxDepth      int
	ignoreUnknown bool
}

// predictParser decodes a /predict body straight into the int8 matrix the library takes
// (0 absent, 1 present, -1 missing). It is a small hand-written JSON parser specialised for
// the two accepted shapes, so that every error can name its row and column, nesting depth is
// bounded without recursion on attacker-controlled structure, and no per-cell allocation is
// made:
//
//	{"features":  [[0, 1, -1, null, ...], ...]}          by column, exactly n_features values per row
//	{"instances": [{"odor=n": 1, "gill_size=b": null}, ...]}  by name; absent names are 0
//
// A cell is 0, 1 (also written 0.0, 1e0, false, true), -1 or null (both: missing). Anything
// else (2, 0.5, 1e999, "1", [], {}) is rejected.
type predictParser struct {
	b     []byte
	i     int
	lim   parseLimits
	m     *servedModel
	x     []int8 // output matrix, row-major
	rows  int
	seen  []uint32 // per-column stamp of the row that last set it (duplicate detection)
	stamp uint32
}

func (p *predictParser) reset(body []byte, m *servedModel, lim parseLimits, x []int8, seen []uint32) {
	*p = predictParser{b: body, lim: lim, m: m, x: x[:0], seen: seen}
}

func (p *predictParser) syntax(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON,
		Message: fmt.Sprintf("invalid JSON at byte %d: %s", p.i, msg), Offset: intp(p.i)}
}

func (p *predictParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *predictParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *predictParser) expect(c byte, what string) *apiError {
	if p.peek() != c {
		if p.i >= len(p.b) {
			return p.syntax("unexpected end of input, expected " + what)
		}
		return p.syntax(fmt.Sprintf("expected %s, found %q", what, p.b[p.i]))
	}
	p.i++
	return nil
}

// parse runs the whole parse; on success p.x holds rows*n_features values.
func (p *predictParser) parse() *apiError {
	if p.peek() == 0 && p.i >= len(p.b) {
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON,
			Message: `empty body: expected {"features": [[...]]} or {"instances": [{...}]}`}
	}
	if err := p.expect('{', "an object"); err != nil {
		return err
	}
	got := ""
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			keyStart := p.i
			key, err := p.str()
			if err != nil {
				return err
			}
			if err := p.expect(':', "':'"); err != nil {
				return err
			}
			switch key {
			case "features", "instances":
				if got != "" {
					msg := fmt.Sprintf("the body has both %q and %q; send one", got, key)
					if got == key {
						msg = fmt.Sprintf("duplicate key %q", key)
					}
					return &apiError{Status: http.StatusBadRequest, Code: codeBadShape, Message: msg}
				}
				got = key
				var e *apiError
				if key == "features" {
					e = p.features()
				} else {
					e = p.instances()
				}
				if e != nil {
					return e
				}
			default:
				p.i = keyStart
				return &apiError{Status: http.StatusBadRequest, Code: codeUnknownField,
					Message: fmt.Sprintf("unknown top-level key %q: expected \"features\" or \"instances\"", key)}
			}
			c := p.peek()
			p.i++
			if c == '}' {
				break
			}
			if c != ',' {
				p.i--
				return p.syntax("expected ',' or '}' after a top-level value")
			}
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return p.syntax("trailing data after the JSON object")
	}
	if got == "" {
		return &apiError{Status: http.StatusBadRequest, Code: codeBadShape,
			Message: `the body must have "features" (rows of values by column) or "instances" (objects by feature name)`}
	}
	return nil
}

func (p *predictParser) addRow() *apiError {
	if p.rows >= p.lim.maxRows {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooManyRows,
			Message: fmt.Sprintf("row %d: more than %d rows in one request (limit: -max-rows)", p.rows, p.lim.maxRows),
			Row:     intp(p.rows)}
	}
	p.rows++
	n := p.m.nFeatures
	if cap(p.x)-len(p.x) < n {
		grown := make([]int8, len(p.x), 2*cap(p.x)+n)
		copy(grown, p.x)
		p.x = grown
	}
	p.x = p.x[:len(p.x)+n]
	return nil
}

func (p *predictParser) features() *apiError {
	if c := p.peek(); c != '[' {
		return p.typeError(-1, 2, `"features" must be an array of rows`)
	}
	p.i++
	if p.peek() == ']' {
		p.i++
		return nil
	}
	n := p.m.nFeatures
	for {
		r := p.rows
		if p.peek() != '[' {
			return p.typeError(r, 3, fmt.Sprintf("row %d must be an array of %d values", r, n))
		}
		p.i++
		if err := p.addRow(); err != nil {
			return err
		}
		row := p.x[len(p.x)-n:]
		col := 0
		if p.peek() == ']' {
			p.i++
		} else {
			for {
				if col >= n {
					return &apiError{Status: http.StatusBadRequest, Code: codeWrongWidth,
						Message: fmt.Sprintf("row %d has more than %d values: the model has %d features", r, n, n),
						Row:     intp(r), Column: intp(col)}
				}
				v, err := p.cell(r, col)
				if err != nil {
					return err
				}
				row[col] = v
				col++
				c := p.peek()
				p.i++
				if c == ']' {
					break
				}
				if c != ',' {
					p.i--
					return p.syntax(fmt.Sprintf("expected ',' or ']' in row %d", r))
				}
			}
		}
		if col != n {
			return &apiError{Status: http.StatusBadRequest, Code: codeWrongWidth,
				Message: fmt.Sprintf("row %d has %d values, the model has %d features", r, col, n),
				Row:     intp(r), Column: intp(col)}
		}
		c := p.peek()
		p.i++
		if c == ']' {
			return nil
		}
		if c != ',' {
			p.i--
			return p.syntax(`expected ',' or ']' after a row of "features"`)
		}
	}
}

func (p *predictParser) instances() *apiError {
	if c := p.peek(); c != '[' {
		return p.typeError(-1, 2, `"instances" must be an array of objects`)
	}
	p.i++
	if p.peek() == ']' {
		p.i++
		return nil
	}
	n := p.m.nFeatures
	if len(p.seen) < n {
		p.seen = make([]uint32, n)
	}
	clear(p.seen) // stamps of an earlier request (buffers are pooled) must not match
	p.stamp = 0
	for {
		r := p.rows
		if p.peek() != '{' {
			return p.typeError(r, 3, fmt.Sprintf("row %d: each instance must be an object mapping feature names to values", r))
		}
		p.i++
		if err := p.addRow(); err != nil {
			return err
		}
		row := p.x[len(p.x)-n:]
		clear(row) // absent names are 0
		p.stamp++
		if p.stamp == 0 { // wrapped: forget old stamps
			clear(p.seen)
			p.stamp = 1
		}
		if p.peek() == '}' {
			p.i++
		} else {
			for {
				name, err := p.strKey()
				if err != nil {
					return err
				}
				if err := p.expect(':', "':'"); err != nil {
					return err
				}
				col, ok := p.m.featureIndex[string(name)] // no allocation for the lookup
				if !ok {
					if !p.lim.ignoreUnknown {
						return &apiError{Status: http.StatusBadRequest, Code: codeUnknownFeature,
							Message: fmt.Sprintf("row %d: unknown feature %q (the model has %d features; GET /v1/model lists them)", r, truncate(string(name), 200), n),
							Row:     intp(r), Feature: truncate(string(name), 200)}
					}
					if err := p.skip(4); err != nil {
						return err
					}
				} else {
					if p.seen[col] == p.stamp {
						return &apiError{Status: http.StatusBadRequest, Code: codeDuplicateFeat,
							Message: fmt.Sprintf("row %d, column %d: feature %q appears twice", r, col, p.m.featureNames[col]),
							Row:     intp(r), Column: intp(col), Feature: p.m.featureNames[col]}
					}
					p.seen[col] = p.stamp
					v, err := p.cell(r, col)
					if err != nil {
						return err
					}
					row[col] = v
				}
				c := p.peek()
				p.i++
				if c == '}' {
					break
				}
				if c != ',' {
					p.i--
					return p.syntax(fmt.Sprintf("expected ',' or '}' in instance %d", r))
				}
			}
		}
		c := p.peek()
		p.i++
		if c == ']' {
			return nil
		}
		if c != ',' {
			p.i--
			return p.syntax(`expected ',' or ']' after an instance`)
		}
	}
}

// cell parses one value at row r, column col (depth 3 in both shapes).
func (p *predictParser) cell(r, col int) (int8, *apiError) {
	// Fast path for the common case: a bare 0 or 1 directly followed by a delimiter.
	if i := p.i; i+1 < len(p.b) {
		c, d := p.b[i], p.b[i+1]
		if (c == '0' || c == '1') && (d == ',' || d == ']' || d == '}' || d == ' ' || d == '\n') {
			p.i = i + 1
			return int8(c - '0'), nil
		}
	}
	c := p.peek()
	start := p.i
	switch {
	case c == 'n':
		if p.lit("null") {
			return -1, nil
		}
	case c == 't':
		if p.lit("true") {
			return 1, nil
		}
	case c == 'f':
		if p.lit("false") {
			return 0, nil
		}
	case c == '-' || isDigit(c):
		end, ok := p.scanNumber()
		if !ok {
			return 0, p.syntax("malformed number")
		}
		tok := p.b[start:end]
		p.i = end
		switch string(tok) { // fast path, no allocation
		case "0", "-0":
			return 0, nil
		case "1":
			return 1, nil
		case "-1":
			return -1, nil
		}
		f, err := strconv.ParseFloat(string(tok), 64)
		switch {
		case err != nil || math.IsInf(f, 0) || math.IsNaN(f):
			return 0, p.badValue(r, col, fmt.Sprintf("value %s is not a finite number", truncate(string(tok), 40)))
		case f == 0:
			return 0, nil
		case f == 1:
			return 1, nil
		case f == -1:
			return -1, nil
		}
		return 0, p.badValue(r, col, fmt.Sprintf("value %s is not 0, 1, -1 or null", truncate(string(tok), 40)))
	case c == '"':
		return 0, p.badTyped(r, col, "a string")
	case c == '[':
		return 0, p.badTyped(r, col, "an array")
	case c == '{':
		return 0, p.badTyped(r, col, "an object")
	}
	if p.i >= len(p.b) {
		return 0, p.syntax("unexpected end of input")
	}
	return 0, p.syntax(fmt.Sprintf("unexpected %q", p.b[p.i]))
}

// badTyped reports a cell of the wrong JSON type, after checking the value is well-formed
// JSON within the depth limit (so a deeply nested cell is reported as json_too_deep).
func (p *predictParser) badTyped(r, col int, what string) *apiError {
	if err := p.skip(4); err != nil {
		return err
	}
	return p.badValue(r, col, fmt.Sprintf("expected 0, 1, -1 or null, found %s", what))
}

func (p *predictParser) badValue(r, col int, msg string) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Code: codeBadValue, Row: intp(r), Column: intp(col),
		Feature: p.m.featureNames[col]}
	e.Message = fmt.Sprintf("row %d, column %d (%s): %s", r, col, e.Feature, msg)
	return e
}

// typeError reports a structural type mismatch at row r (or -1) for a value at nesting depth
// `depth`, after checking that the value is well-formed JSON within the depth limit.
func (p *predictParser) typeError(r, depth int, msg string) *apiError {
	if err := p.skip(depth); err != nil {
		return err
	}
	e := &apiError{Status: http.StatusBadRequest, Code: codeBadShape, Message: msg}
	if r >= 0 {
		e.Row = intp(r)
	}
	return e
}

func (p *predictParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// scanNumber checks the JSON number grammar from p.i; it returns the end offset.
func (p *predictParser) scanNumber() (int, bool) {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		s := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == s {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == s {
			return i, false
		}
	}
	if i-p.i > 1000 {
		return i, false
	}
	return i, true
}

// strKey scans a string and returns its decoded bytes; the common case (no escapes) returns
// a subslice of the body without copying.
func (p *predictParser) strKey() ([]byte, *apiError) {
	if p.peek() != '"' {
		if p.i >= len(p.b) {
			return nil, p.syntax("unexpected end of input, expected a string")
		}
		return nil, p.syntax("expected a string key")
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			raw := p.b[start+1 : p.i-1]
			if !escaped {
				if !utf8.Valid(raw) {
					return nil, p.syntax("invalid UTF-8 in string")
				}
				return raw, nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				p.i = start
				return nil, p.syntax("invalid string escape")
			}
			return []byte(s), nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return nil, p.syntax("control character in string")
		default:
			p.i++
		}
	}
	return nil, p.syntax("unterminated string")
}

func (p *predictParser) str() (string, *apiError) {
	b, err := p.strKey()
	return string(b), err
}

// skip validates and skips one JSON value starting at nesting depth `depth` (the value itself
// is at that depth). It never recurses deeper than lim.maxDepth.
func (p *predictParser) skip(depth int) *apiError {
	c := p.peek()
	switch {
	case c == '{' || c == '[':
		if depth > p.lim.maxDepth {
			return &apiError{Status: http.StatusBadRequest, Code: codeTooDeep,
				Message: fmt.Sprintf("JSON nested deeper than %d levels (at byte %d)", p.lim.maxDepth, p.i),
				Offset:  intp(p.i)}
		}
		p.i++
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		if p.peek() == closer {
			p.i++
			return nil
		}
		for {
			if c == '{' {
				if _, err := p.strKey(); err != nil {
					return err
				}
				if err := p.expect(':', "':'"); err != nil {
					return err
				}
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			d := p.peek()
			p.i++
			if d == closer {
				return nil
			}
			if d != ',' {
				p.i--
				return p.syntax("expected ',' or a closing bracket")
			}
		}
	case c == '"':
		_, err := p.strKey()
		return err
	case c == 't':
		if p.lit("true") {
			return nil
		}
	case c == 'f':
		if p.lit("false") {
			return nil
		}
	case c == 'n':
		if p.lit("null") {
			return nil
		}
	case c == '-' || isDigit(c):
		end, ok := p.scanNumber()
		if ok {
			p.i = end
			return nil
		}
		return p.syntax("malformed number")
	}
	if p.i >= len(p.b) {
		return p.syntax("unexpected end of input")
	}
	return p.syntax(fmt.Sprintf("unexpected %q", p.b[p.i]))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
