package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// Explanations: a /predict body with "explain": true gets, per row, the leaf it reaches, the
// nodes and the rules on its way there, and the features that moved P(class 1) the most:
//
//	"explanations":[{"leaf":12,"nodes":[0,1,12],"path":["odor=n absent","spore_print_color=r present"],
//	                 "contributions":[{"feature":"odor=n","value":-0.43},...],"bias":0.48}]
//
// "top_k" (1..MaxTopK, default DefaultTopK) bounds the contributions listed. The library
// computes everything (decision path, per-feature contributions); this file only encodes it.

// DefaultTopK is how many contributions an explanation lists without "top_k".
const DefaultTopK = 5

// MaxTopK is the largest "top_k" accepted. A path tests at most max-depth features, so a
// larger value would change nothing on any real tree.
const MaxTopK = 100

// Explain reports whether the body asked for explanations ("explain": true).
func (p *Parser) Explain() bool { return p.explain }

// TopK is how many contributions each explanation lists.
func (p *Parser) TopK() int {
	if p.topK == 0 {
		return DefaultTopK
	}
	return p.topK
}

func (p *Parser) badOption(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadOption, Message: msg}
}

// explainOption parses the value of the top-level key "explain" (true or false) or "top_k"
// (an integer from 1 to MaxTopK, also written 3.0 or 3e0, like cell values).
func (p *Parser) explainOption(key string) *Error {
	idx := 0
	if key == "top_k" {
		idx = 1
	}
	if p.hasOpt[idx] {
		return &Error{Status: http.StatusBadRequest, Code: CodeBadShape, Message: fmt.Sprintf("duplicate key %q", key)}
	}
	p.hasOpt[idx] = true
	c := p.peek()
	start := p.i
	if key == "explain" {
		if p.lit("true") {
			p.explain = true
			return nil
		}
		if p.lit("false") {
			return nil
		}
		if err := p.skip(2); err != nil {
			return err
		}
		return p.badOption(fmt.Sprintf(`"explain" must be true or false, not %s`, Truncate(string(p.b[start:p.i]), 40)))
	}
	if c == '-' || isDigit(c) {
		end, ok := p.scanNumber()
		if !ok {
			return p.syntax("malformed number")
		}
		p.i = end
		f, err := strconv.ParseFloat(string(p.b[start:end]), 64)
		if err == nil && f == math.Trunc(f) && f >= 1 && f <= MaxTopK {
			p.topK = int(f)
			return nil
		}
	} else if err := p.skip(2); err != nil {
		return err
	}
	return p.badOption(fmt.Sprintf(`"top_k" must be an integer from 1 to %d, not %s`, MaxTopK, Truncate(string(p.b[start:p.i]), 40)))
}

// checkExplain refuses a "top_k" that would be ignored: it only shapes explanations.
func (p *Parser) checkExplain() *Error {
	if p.hasOpt[1] && !p.explain {
		return p.badOption(`"top_k" is only used with "explain": true`)
	}
	return nil
}

// nodeRule is what the answer needs of a split node to write its rule.
type nodeRule struct {
	feature int32 // -1 for a leaf
	right   int32 // the child for value 1 (present)
}

// explainTables reads the node table once per model and pre-encodes the feature names.
func (m *Model) explainTables() error {
	lib := m.Lib
	m.maxDepth = lib.MaxDepth()
	m.nodes = make([]nodeRule, lib.NNodes())
	for i := range m.nodes {
		n, err := lib.Node(i)
		if err != nil {
			return fmt.Errorf("reading node %d: %w", i, err)
		}
		m.nodes[i] = nodeRule{feature: int32(n.Feature), right: int32(n.Right)}
	}
	m.nameJSON = make([][]byte, m.NFeatures)
	for f, name := range m.FeatureNames {
		m.nameJSON[f], _ = json.Marshal(name)
		m.maxNameJSON = max(m.maxNameJSON, len(m.nameJSON[f]))
	}
	return nil
}

// ExplainRowBytes bounds the bytes one row's explanation adds to the answer (for the memory
// budget), with topK contributions listed.
func (m *Model) ExplainRowBytes(topK int) int {
	const number = 25 // the longest float64 or int32 written, with its separator
	d := m.maxDepth
	return 64 + (d+1)*12 + // {"leaf":..,"nodes":[..]
		d*(m.maxNameJSON+len(` missing (taken as present)",`)) + // "path"
		min(topK, d)*(m.maxNameJSON+len(`{"feature":,"value":},`)+number) + // "contributions"
		16 + number // "bias"
}

// explainBuffers are one request's per-row buffers for the explanation calls.
type explainBuffers struct {
	path    []int32
	contrib []float64
	top     []int32
}

// appendExplanations writes `,"explanations":[...]` for the rows parsed by p.
func (m *Model) appendExplanations(b []byte, p *Parser, buf *Buffers) ([]byte, *Error) {
	nf, k := m.NFeatures, p.TopK()
	eb := &buf.explain
	if cap(eb.path) < m.maxDepth+1 {
		eb.path = make([]int32, m.maxDepth+1)
		eb.top = make([]int32, 0, m.maxDepth+1)
	}
	if cap(eb.contrib) < nf+1 {
		eb.contrib = make([]float64, nf+1)
	}
	path, contrib := eb.path[:m.maxDepth+1], eb.contrib[:nf+1]
	memo := &buf.memo
	b = append(b, `,"explanations":[`...)
	for r := 0; r < p.rows; r++ {
		row := p.x[r*nf : (r+1)*nf]
		n, err := m.Lib.DecisionPathInto(row, path)
		if err == nil {
			err = m.Lib.PredictContribInto(row, 1, contrib)
		}
		if err != nil {
			return nil, rowError(err, r)
		}
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"leaf":`...)
		b = strconv.AppendInt(b, int64(path[n-1]), 10)
		b = append(b, `,"nodes":[`...)
		for j, id := range path[:n] {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(id), 10)
		}
		b = append(b, `],"path":[`...)
		top := eb.top[:0]
		for j := 0; j+1 < n; j++ {
			nd := m.nodes[path[j]]
			f := nd.feature
			if j > 0 {
				b = append(b, ',')
			}
			name := m.nameJSON[f]
			b = append(b, name[:len(name)-1]...) // without the closing quote
			right := path[j+1] == nd.right
			switch {
			case row[f] == -1 && right:
				b = append(b, ` missing (taken as present)"`...)
			case row[f] == -1:
				b = append(b, ` missing (taken as absent)"`...)
			case right:
				b = append(b, ` present"`...)
			default:
				b = append(b, ` absent"`...)
			}
			if contrib[f] != 0 && !containsInt32(top, f) {
				top = append(top, f)
			}
		}
		sortByMagnitude(top, contrib)
		b = append(b, `],"contributions":[`...)
		for i, f := range top[:min(k, len(top))] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"feature":`...)
			b = append(b, m.nameJSON[f]...)
			b = append(b, `,"value":`...)
			b = memo.append(b, contrib[f])
			b = append(b, '}')
		}
		b = append(b, `],"bias":`...)
		b = memo.append(b, contrib[nf])
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// rowError maps a failed one-row explanation call of row r. The parser has validated every
// cell, so this is not expected; if it happens, it is reported at the request's row.
func rowError(err error, r int) *Error {
	e := libraryError(err)
	if e.Row != nil {
		e.Row = intp(r)
	}
	var te *thetatree.Error
	if e.Status < 500 && errors.As(err, &te) {
		e.Message = fmt.Sprintf("row %d: %s", r, te.Message)
	}
	return e
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sortByMagnitude orders features by |contribution|, largest first, ties in path order (an
// insertion sort: a path tests a handful of features, and it allocates nothing).
func sortByMagnitude(f []int32, contrib []float64) {
	for i := 1; i < len(f); i++ {
		v := f[i]
		j := i
		for j > 0 && math.Abs(contrib[f[j-1]]) < math.Abs(contrib[v]) {
			f[j] = f[j-1]
			j--
		}
		f[j] = v
	}
}
