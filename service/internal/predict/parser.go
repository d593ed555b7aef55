package predict

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"strconv"
)

// Limits are the request limits.
type Limits struct {
	MaxRows       int
	MaxDepth      int  // deepest JSON nesting accepted anywhere, ignored values included
	IgnoreUnknown bool // skip feature names the model does not have (else unknown_feature)
	// Feedback accepts the /feedback keys besides the rows: "labels" (true classes, one per
	// row) and "ids" (rows of earlier answers, instead of "features"/"instances").
	Feedback bool
	// Reserve, when set, is asked before the parser allocates n more bytes (the matrix grows
	// as rows arrive); false refuses the request with 503 overloaded.
	Reserve func(n int) bool
}

// Parser decodes a /predict body straight into the int8 matrix the library takes (0 absent,
// 1 present, -1 missing). It is a small hand-written JSON parser specialised for the two
// accepted shapes, so that every error can name its row and column, nesting depth is bounded
// without recursion on attacker-controlled structure, and no per-cell allocation is made:
//
//	{"features":  [[0, 1, -1, null, ...], ...]}          by column, exactly n_features values per row
//	{"instances": [{"odor=n": 1, "gill_size=b": null}, ...]}  by name; absent names are 0
//
// A cell is 0, 1 (also written 0.0, 1e0, false, true), -1 or null (both: missing). Anything
// else (2, 0.5, 1e999, "1", [], {}) is rejected. The zero Parser is ready for Reset.
type Parser struct {
	b     []byte
	i     int
	lim   Limits
	m     *Model
	x     []int8 // output matrix, row-major
	rows  int
	seen  []uint32 // per-column stamp of the row that last set it (duplicate detection)
	stamp uint32

	// Explanations (/predict only): "explain": true and its "top_k".
	explain bool
	hasOpt  [2]bool // "explain", "top_k" seen (each at most once)
	topK    int     // 0 until "top_k" is given

	// Feedback only.
	labels []int8
	ids    []string
	got    string // the rows key seen: "features", "instances" or "ids"
}

// Reset prepares the parser for body, reusing the buffers x and seen.
func (p *Parser) Reset(body []byte, m *Model, lim Limits, x []int8, seen []uint32) {
	*p = Parser{b: body, lim: lim, m: m, x: x[:0], seen: seen, labels: p.labels[:0]}
}

// X is the parsed matrix (Rows() x NFeatures values), valid until the next Reset.
func (p *Parser) X() []int8 { return p.x }

// Rows is the number of rows parsed.
func (p *Parser) Rows() int { return p.rows }

// Labels are the "labels" of a feedback body.
func (p *Parser) Labels() []int8 { return p.labels }

// IDs are the "ids" of a feedback body (nil when the rows came as features or instances).
func (p *Parser) IDs() []string { return p.ids }

func (p *Parser) syntax(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
		Message: fmt.Sprintf("invalid JSON at byte %d: %s", p.i, msg), Offset: intp(p.i)}
}

func (p *Parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *Parser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *Parser) expect(c byte, what string) *Error {
	if p.peek() != c {
		if p.i >= len(p.b) {
			return p.syntax("unexpected end of input, expected " + what)
		}
		return p.syntax(fmt.Sprintf("expected %s, found %q", what, p.b[p.i]))
	}
	p.i++
	return nil
}

// Parse runs the whole parse; on success X() holds Rows()*NFeatures values.
func (p *Parser) Parse() *Error {
	if p.peek() == 0 && p.i >= len(p.b) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: `empty body: expected {"features": [[...]]} or {"instances": [{...}]}`}
	}
	if err := p.expect('{', "an object"); err != nil {
		return err
	}
	hasLabels := false
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			keyStart := p.i
			kb, err := p.strKey()
			if err != nil {
				return err
			}
			key := topLevelKey(kb)
			if err := p.expect(':', "':'"); err != nil {
				return err
			}
			switch {
			case key == "features" || key == "instances" || (p.lim.Feedback && key == "ids"):
				if p.got != "" {
					msg := fmt.Sprintf("the body has both %q and %q; send one", p.got, key)
					if p.got == key {
						msg = fmt.Sprintf("duplicate key %q", key)
					}
					return &Error{Status: http.StatusBadRequest, Code: CodeBadShape, Message: msg}
				}
				p.got = key
				var e *Error
				switch key {
				case "features":
					e = p.features()
				case "instances":
					e = p.instances()
				default:
					e = p.idList()
				}
				if e != nil {
					return e
				}
			case !p.lim.Feedback && (key == "explain" || key == "top_k"):
				if e := p.explainOption(key); e != nil {
					return e
				}
			case p.lim.Feedback && key == "labels":
				if hasLabels {
					return &Error{Status: http.StatusBadRequest, Code: CodeBadShape, Message: `duplicate key "labels"`}
				}
				hasLabels = true
				if e := p.labelList(); e != nil {
					return e
				}
			default:
				p.i = keyStart
				want := `"features" or "instances" (and optionally "explain", "top_k")`
				if p.lim.Feedback {
					want = `"labels" and one of "features", "instances", "ids"`
				}
				return &Error{Status: http.StatusBadRequest, Code: CodeUnknownField,
					Message: fmt.Sprintf("unknown top-level key %q: expected %s", Truncate(key, 200), want)}
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
	if p.got == "" {
		msg := `the body must have "features" (rows of values by column) or "instances" (objects by feature name)`
		if p.lim.Feedback {
			msg = `the body must have "labels" and one of "features", "instances" or "ids"`
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeBadShape, Message: msg}
	}
	if p.lim.Feedback {
		return p.checkLabels(hasLabels)
	}
	return p.checkExplain()
}

// topLevelKey returns the known keys as constants (no allocation), anything else as a copy.
func topLevelKey(b []byte) string {
	for _, k := range [...]string{"features", "instances", "labels", "ids", "explain", "top_k"} {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// checkLabels requires one label per row of a feedback body.
func (p *Parser) checkLabels(hasLabels bool) *Error {
	n := p.rows
	if p.got == "ids" {
		n = len(p.ids)
	}
	switch {
	case !hasLabels:
		return &Error{Status: http.StatusBadRequest, Code: CodeBadShape,
			Message: `feedback needs "labels": the true class of each row`}
	case len(p.labels) != n:
		return &Error{Status: http.StatusBadRequest, Code: CodeBadShape,
			Message: fmt.Sprintf(`%d labels for %d rows: send one label per row`, len(p.labels), n)}
	}
	return nil
}

func (p *Parser) tooManyRows(r int) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooManyRows,
		Message: fmt.Sprintf("row %d: more than %d rows in one request (limit: -max-rows)", r, p.lim.MaxRows),
		Row:     intp(r)}
}

// overloaded is the answer when the memory budget (Limits.Reserve) refuses an allocation.
func overloaded() *Error {
	return Errorf(http.StatusServiceUnavailable, CodeOverloaded,
		"the request memory budget (MAX_INFLIGHT_BYTES) is in use: retry later")
}

func (p *Parser) reserve(n int) bool { return p.lim.Reserve == nil || p.lim.Reserve(n) }

func (p *Parser) addRow() *Error {
	if p.rows >= p.lim.MaxRows {
		return p.tooManyRows(p.rows)
	}
	p.rows++
	n := p.m.NFeatures
	if cap(p.x)-len(p.x) < n {
		newCap := 2*cap(p.x) + n
		if !p.reserve(newCap) {
			return overloaded()
		}
		grown := make([]int8, len(p.x), newCap)
		copy(grown, p.x)
		p.x = grown
	}
	p.x = p.x[:len(p.x)+n]
	return nil
}

// array parses a JSON array at depth 2 (a top-level value), calling elem for each element
// with its index; elem parses exactly one value.
func (p *Parser) array(what string, elem func(i int) *Error) *Error {
	if c := p.peek(); c != '[' {
		return p.typeError(-1, 2, what+" must be an array")
	}
	p.i++
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		c := p.peek()
		p.i++
		if c == ']' {
			return nil
		}
		if c != ',' {
			p.i--
			return p.syntax("expected ',' or ']' after an element of " + what)
		}
	}
}

func (p *Parser) features() *Error {
	n := p.m.NFeatures
	return p.array(`"features"`, func(r int) *Error {
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
				col = p.plainCells(row, col)
				if col >= n {
					return &Error{Status: http.StatusBadRequest, Code: CodeWrongWidth,
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
			return &Error{Status: http.StatusBadRequest, Code: CodeWrongWidth,
				Message: fmt.Sprintf("row %d has %d values, the model has %d features", r, col, n),
				Row:     intp(r), Column: intp(col)}
		}
		return nil
	})
}

func (p *Parser) instances() *Error {
	n := p.m.NFeatures
	if len(p.seen) < n {
		p.seen = make([]uint32, n)
	}
	clear(p.seen) // stamps of an earlier request (buffers are pooled) must not match
	p.stamp = 0
	return p.array(`"instances"`, func(r int) *Error {
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
			return nil
		}
		for {
			if err := p.instanceField(r, row); err != nil {
				return err
			}
			c := p.peek()
			p.i++
			if c == '}' {
				return nil
			}
			if c != ',' {
				p.i--
				return p.syntax(fmt.Sprintf("expected ',' or '}' in instance %d", r))
			}
		}
	})
}

// plainCells is the fast path for machine-written rows: it consumes cells spelled exactly
// "0," or "1," from row[col] on, stopping before the row's last cell (which, with its
// closing bracket and the width check, takes the general path) and at anything else. Four
// cells at a time when it can: one 8-byte load checked against the pattern "d,d,d,d,".
func (p *Parser) plainCells(row []int8, col int) int {
	const (
		commas    = 0xFF00FF00FF00FF00 // bytes 1, 3, 5, 7
		wantComma = 0x2C002C002C002C00 // ','
		digits    = 0x00FE00FE00FE00FE // bytes 0, 2, 4, 6, ignoring bit 0
		wantDigit = 0x0030003000300030 // '0' or '1'
	)
	b, i, last := p.b, p.i, len(row)-1
	for col+4 <= last && i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&commas != wantComma || w&digits != wantDigit {
			break
		}
		row[col] = int8(w & 1)
		row[col+1] = int8(w >> 16 & 1)
		row[col+2] = int8(w >> 32 & 1)
		row[col+3] = int8(w >> 48 & 1)
		col += 4
		i += 8
	}
	for col < last && i+1 < len(b) && b[i+1] == ',' && (b[i] == '0' || b[i] == '1') {
		row[col] = int8(b[i] - '0')
		col++
		i += 2
	}
	p.i = i
	return col
}

// instanceField parses one "name": value of instance r into row.
func (p *Parser) instanceField(r int, row []int8) *Error {
	name, err := p.strKey()
	if err != nil {
		return err
	}
	if err := p.expect(':', "':'"); err != nil {
		return err
	}
	col, ok := p.m.FeatureIndex[string(name)] // no allocation for the lookup
	if !ok {
		if !p.lim.IgnoreUnknown {
			return &Error{Status: http.StatusBadRequest, Code: CodeUnknownFeature,
				Message: fmt.Sprintf("row %d: unknown feature %q (the model has %d features; GET /v1/model lists them)", r, Truncate(string(name), 200), p.m.NFeatures),
				Row:     intp(r), Feature: Truncate(string(name), 200)}
		}
		return p.skip(4)
	}
	if p.seen[col] == p.stamp {
		return &Error{Status: http.StatusBadRequest, Code: CodeDuplicateFeature,
			Message: fmt.Sprintf("row %d, column %d: feature %q appears twice", r, col, p.m.FeatureNames[col]),
			Row:     intp(r), Column: intp(col), Feature: p.m.FeatureNames[col]}
	}
	p.seen[col] = p.stamp
	v, cerr := p.cell(r, col)
	if cerr != nil {
		return cerr
	}
	row[col] = v
	return nil
}

// labelList parses "labels": [0, 1, ...] (true classes: 0 or 1, never missing).
func (p *Parser) labelList() *Error {
	return p.array(`"labels"`, func(i int) *Error {
		if i >= p.lim.MaxRows {
			return p.tooManyRows(i)
		}
		v, err := p.value(3)
		if err != nil {
			return err
		}
		if v.bad != "" || v.v < 0 {
			what := v.bad
			if what == "" {
				what = "missing (-1/null)"
			}
			return &Error{Status: http.StatusBadRequest, Code: CodeBadLabel, Row: intp(i),
				Message: fmt.Sprintf("row %d: label %s is not a class (0 or 1)", i, what)}
		}
		p.labels = append(p.labels, v.v)
		return nil
	})
}

// idList parses "ids": ["<request id>/<row>", ...], rows of earlier /predict answers.
func (p *Parser) idList() *Error {
	return p.array(`"ids"`, func(i int) *Error {
		if i >= p.lim.MaxRows {
			return p.tooManyRows(i)
		}
		if p.peek() != '"' {
			if err := p.skip(3); err != nil {
				return err
			}
			return &Error{Status: http.StatusBadRequest, Code: CodeBadValue, Row: intp(i),
				Message: fmt.Sprintf(`row %d: an id is a string "<request id>/<row>"`, i)}
		}
		s, err := p.str()
		if err != nil {
			return err
		}
		if !p.reserve(len(s) + 16) {
			return overloaded()
		}
		p.ids = append(p.ids, s)
		return nil
	})
}

// scalar is a parsed cell: v is 0, 1 or -1, unless bad describes why the value is none of
// those.
type scalar struct {
	v   int8
	bad string
}

// value parses one scalar at nesting depth `depth` where 0/1/-1/null are expected. Wrong
// types are skipped (checked for well-formedness and depth) and reported in bad; malformed
// JSON is an error.
func (p *Parser) value(depth int) (scalar, *Error) {
	// Fast path for the common case: a bare 0 or 1 directly followed by a delimiter.
	if i := p.i; i+1 < len(p.b) {
		c, d := p.b[i], p.b[i+1]
		if (c == '0' || c == '1') && (d == ',' || d == ']' || d == '}' || d == ' ' || d == '\n') {
			p.i = i + 1
			return scalar{v: int8(c - '0')}, nil
		}
	}
	c := p.peek()
	start := p.i
	switch {
	case c == 'n':
		if p.lit("null") {
			return scalar{v: -1}, nil
		}
	case c == 't':
		if p.lit("true") {
			return scalar{v: 1}, nil
		}
	case c == 'f':
		if p.lit("false") {
			return scalar{v: 0}, nil
		}
	case c == '-' || isDigit(c):
		end, ok := p.scanNumber()
		if !ok {
			return scalar{}, p.syntax("malformed number")
		}
		tok := p.b[start:end]
		p.i = end
		switch string(tok) { // fast path, no allocation
		case "0", "-0":
			return scalar{v: 0}, nil
		case "1":
			return scalar{v: 1}, nil
		case "-1":
			return scalar{v: -1}, nil
		}
		f, err := strconv.ParseFloat(string(tok), 64)
		switch {
		case err != nil || math.IsInf(f, 0) || math.IsNaN(f):
			return scalar{bad: fmt.Sprintf("%s (not a finite number)", Truncate(string(tok), 40))}, nil
		case f == 0:
			return scalar{v: 0}, nil
		case f == 1:
			return scalar{v: 1}, nil
		case f == -1:
			return scalar{v: -1}, nil
		}
		return scalar{bad: Truncate(string(tok), 40)}, nil
	case c == '"' || c == '[' || c == '{':
		if err := p.skip(depth); err != nil {
			return scalar{}, err
		}
		return scalar{bad: map[byte]string{'"': "a string", '[': "an array", '{': "an object"}[c]}, nil
	}
	if p.i >= len(p.b) {
		return scalar{}, p.syntax("unexpected end of input")
	}
	return scalar{}, p.syntax(fmt.Sprintf("unexpected %q", p.b[p.i]))
}

// cell parses one feature value at row r, column col (nesting depth 4 in both shapes: body
// object, rows array, row, value).
func (p *Parser) cell(r, col int) (int8, *Error) {
	v, err := p.value(4)
	if err != nil {
		return 0, err
	}
	if v.bad != "" {
		return 0, p.badValue(r, col, fmt.Sprintf("value %s is not 0, 1, -1 or null", v.bad))
	}
	return v.v, nil
}

func (p *Parser) badValue(r, col int, msg string) *Error {
	e := &Error{Status: http.StatusBadRequest, Code: CodeBadValue, Row: intp(r), Column: intp(col),
		Feature: p.m.FeatureNames[col]}
	e.Message = fmt.Sprintf("row %d, column %d (%s): %s", r, col, e.Feature, msg)
	return e
}

// typeError reports a structural type mismatch at row r (or -1) for a value at nesting depth
// `depth`, after checking that the value is well-formed JSON within the depth limit.
func (p *Parser) typeError(r, depth int, msg string) *Error {
	if err := p.skip(depth); err != nil {
		return err
	}
	e := &Error{Status: http.StatusBadRequest, Code: CodeBadShape, Message: msg}
	if r >= 0 {
		e.Row = intp(r)
	}
	return e
}

func (p *Parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// scanNumber checks the JSON number grammar from p.i; it returns the end offset.
func (p *Parser) scanNumber() (int, bool) {
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// strKey scans a string and returns its decoded bytes; the common case (no escapes) returns
// a subslice of the body without copying. Invalid UTF-8 and lone UTF-16 surrogates
// (\ud800 without its pair) are syntax errors: they cannot be a feature name, and
// encoding/json would silently turn them into U+FFFD.
func (p *Parser) strKey() ([]byte, *Error) {
	if p.peek() != '"' {
		if p.i >= len(p.b) {
			return nil, p.syntax("unexpected end of input, expected a string")
		}
		return nil, p.syntax("expected a string")
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
				if bad := invalidUTF8(raw); bad >= 0 {
					p.i = start + 1 + bad
					return nil, p.syntax("invalid UTF-8 in string")
				}
				return raw, nil
			}
			s, bad, msg := unescape(raw)
			if bad >= 0 {
				p.i = start + 1 + bad
				return nil, p.syntax(msg)
			}
			return s, nil
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

func (p *Parser) str() (string, *Error) {
	b, err := p.strKey()
	return string(b), err
}

// skip validates and skips one JSON value starting at nesting depth `depth` (the value itself
// is at that depth). It never recurses deeper than lim.MaxDepth.
func (p *Parser) skip(depth int) *Error {
	c := p.peek()
	switch {
	case c == '{' || c == '[':
		if depth > p.lim.MaxDepth {
			return &Error{Status: http.StatusBadRequest, Code: CodeTooDeep,
				Message: fmt.Sprintf("JSON nested deeper than %d levels (at byte %d)", p.lim.MaxDepth, p.i),
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

// Problems lists what is wrong with a body size limit and request limits (empty: fine).
// Every front end validates its settings with it.
func Problems(maxBodyBytes int64, l Limits) []string {
	var out []string
	if maxBodyBytes < 1024 {
		out = append(out, "max-body-bytes (MAX_BODY_BYTES) must be at least 1024")
	}
	if l.MaxRows < 1 {
		out = append(out, "max-rows (MAX_ROWS) must be at least 1")
	}
	if l.MaxDepth < 3 || l.MaxDepth > 1000 {
		out = append(out, "max-json-depth (MAX_JSON_DEPTH) must be between 3 and 1000")
	}
	return out
}

// UnknownFeaturesPolicy parses UNKNOWN_FEATURES: "reject" (false) or "ignore" (true).
func UnknownFeaturesPolicy(s string) (ignore bool, ok bool) {
	switch s {
	case "reject":
		return false, true
	case "ignore":
		return true, true
	}
	return false, false
}
