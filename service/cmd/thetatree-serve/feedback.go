package main

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// Labelled feedback and the deployment guide's model_accuracy gauge. POST /feedback carries
// true labels for rows, either rows of earlier /predict answers by id ("<X-Request-Id>/<row>",
// remembered for the last FEEDBACK_MEMORY_ROWS rows), or the rows themselves (predicted now by
// the served version). Each labelled row goes into a rolling window of the last
// FEEDBACK_WINDOW rows of the version that predicted it; model_accuracy{version} is the share
// of correct predictions in that window.

// maxTrackedVersions bounds the versions with an accuracy window (and metric series).
const maxTrackedVersions = 16

type feedbackState struct {
	window  int
	metrics *Metrics

	mu       sync.Mutex
	versions map[string]*accuracyWindow
	memory   predictionMemory
}

func newFeedbackState(window, memoryRows int, m *Metrics) *feedbackState {
	return &feedbackState{window: window, metrics: m, versions: map[string]*accuracyWindow{},
		memory: predictionMemory{max: memoryRows, byID: map[string]*remembered{}}}
}

// accuracyWindow is a ring of the last outcomes (correct or not) of one version.
type accuracyWindow struct {
	ring    []bool
	next    int
	n       int
	correct int
	updated time.Time
}

func (w *accuracyWindow) add(ok bool) {
	if w.n == len(w.ring) {
		if w.ring[w.next] {
			w.correct--
		}
	} else {
		w.n++
	}
	w.ring[w.next] = ok
	if ok {
		w.correct++
	}
	w.next = (w.next + 1) % len(w.ring)
}

func (w *accuracyWindow) accuracy() float64 { return float64(w.correct) / float64(w.n) }

// predictionMemory remembers the predicted labels of recent answers, oldest evicted first.
type predictionMemory struct {
	max   int // rows; 0 disables feedback by id
	rows  int
	byID  map[string]*remembered
	order []*remembered
}

type remembered struct {
	id, version string
	labels      []int8 // predicted
	labelled    []bool // feedback already counted for the row
	gone        bool   // replaced by a later answer with the same id
}

// remember keeps the predicted labels of one answer for feedback by id.
func (f *feedbackState) remember(id, version string, b *predict.Buffers) {
	pred := b.Predicted()
	if f.memory.max == 0 || len(pred) > f.memory.max {
		return
	}
	e := &remembered{id: id, version: version, labels: make([]int8, len(pred)), labelled: make([]bool, len(pred))}
	for i, l := range pred {
		e.labels[i] = int8(l)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &f.memory
	if old := m.byID[id]; old != nil {
		old.gone = true
		m.rows -= len(old.labels)
	}
	m.byID[id] = e
	m.order = append(m.order, e)
	m.rows += len(e.labels)
	for m.rows > m.max {
		o := m.order[0]
		m.order[0] = nil
		m.order = m.order[1:]
		if !o.gone {
			delete(m.byID, o.id)
			m.rows -= len(o.labels)
		}
	}
	if len(m.order) > 0 && cap(m.order) > 4*len(m.order)+64 {
		m.order = append([]*remembered(nil), m.order...) // let the evicted prefix go
	}
}

// outcome is one labelled row: the version that predicted it, and whether it was right.
type labelOutcome struct {
	version string
	correct bool
}

// feedbackAnswer is POST /feedback's answer.
type feedbackAnswer struct {
	Accepted   int                        `json:"accepted"`
	Unmatched  int                        `json:"unmatched,omitempty"`
	Duplicates int                        `json:"duplicates,omitempty"`
	Accuracy   map[string]versionAccuracy `json:"accuracy"`
}

type versionAccuracy struct {
	Accuracy float64 `json:"accuracy"`
	Rows     int     `json:"rows"`
}

// record adds outcomes to the windows and updates the gauges; it returns the accuracy of
// the versions touched.
func (f *feedbackState) record(outs []labelOutcome) map[string]versionAccuracy {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	touched := map[string]versionAccuracy{}
	for _, o := range outs {
		w := f.versions[o.version]
		if w == nil {
			f.evictOldest()
			w = &accuracyWindow{ring: make([]bool, f.window)}
			f.versions[o.version] = w
		}
		w.add(o.correct)
		w.updated = now
		touched[o.version] = versionAccuracy{}
		result := "wrong"
		if o.correct {
			result = "correct"
		}
		f.metrics.feedbackRows.WithLabelValues(o.version, result).Inc()
	}
	for v := range touched {
		w := f.versions[v]
		touched[v] = versionAccuracy{Accuracy: w.accuracy(), Rows: w.n}
		f.metrics.accuracy.WithLabelValues(v).Set(w.accuracy())
	}
	return touched
}

func (f *feedbackState) evictOldest() {
	if len(f.versions) < maxTrackedVersions {
		return
	}
	oldest := ""
	for v, w := range f.versions {
		if oldest == "" || w.updated.Before(f.versions[oldest].updated) {
			oldest = v
		}
	}
	delete(f.versions, oldest)
	f.metrics.accuracy.DeleteLabelValues(oldest)
	f.metrics.feedbackRows.DeleteLabelValues(oldest, "correct")
	f.metrics.feedbackRows.DeleteLabelValues(oldest, "wrong")
}

// byID resolves labelled ids against the remembered answers.
func (f *feedbackState) byID(ids []string, labels []int8) ([]labelOutcome, int, int, *predict.Error) {
	type ref struct {
		id  string
		row int
	}
	refs := make([]ref, len(ids))
	for i, s := range ids {
		k := strings.LastIndexByte(s, '/')
		row, err := strconv.Atoi(s[k+1:])
		if k <= 0 || err != nil || row < 0 {
			return nil, 0, 0, &predict.Error{Status: http.StatusBadRequest, Code: predict.CodeBadValue, Row: &i,
				Message: "row " + strconv.Itoa(i) + ": id " + strconv.Quote(predict.Truncate(s, 100)) +
					` is not "<X-Request-Id of a /predict answer>/<row>"`}
		}
		refs[i] = ref{s[:k], row}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var outs []labelOutcome
	unmatched, dups := 0, 0
	for i, r := range refs {
		e := f.memory.byID[r.id]
		switch {
		case e == nil || r.row >= len(e.labels):
			unmatched++
		case e.labelled[r.row]:
			dups++
		default:
			e.labelled[r.row] = true
			outs = append(outs, labelOutcome{version: e.version, correct: e.labels[r.row] == labels[i]})
		}
	}
	return outs, unmatched, dups, nil
}

func (a *app) handleFeedback(w *respWriter, r *http.Request) {
	q := a.receive(w, r)
	if q == nil {
		return
	}
	defer q.done()
	s := a.reg.Acquire()
	if s == nil {
		a.writeError(w, predict.Errorf(http.StatusServiceUnavailable, predict.CodeNoModel, "no model is loaded"))
		return
	}
	defer s.release()
	lim := q.limits(a.lim)
	lim.Feedback = true
	p, e := predict.Parse(s.Model, q.body, lim, q.buf)
	if e != nil {
		a.rejectInput(w, e)
		return
	}
	var outs []labelOutcome
	ans := feedbackAnswer{}
	if ids := p.IDs(); ids != nil {
		if a.cfg.FeedbackMemoryRows == 0 {
			a.rejectInput(w, predict.Errorf(http.StatusBadRequest, predict.CodeBadShape,
				`feedback by id is off (FEEDBACK_MEMORY_ROWS=0): send the rows as "features" or "instances"`))
			return
		}
		outs, ans.Unmatched, ans.Duplicates, e = a.feedback.byID(ids, p.Labels())
	} else {
		w.version, w.rows = s.Version, p.Rows()
		w.shape = &[2]int{p.Rows(), s.NFeatures}
		var pred []int32
		if pred, _, e = predict.Run(s.Model, p, q.buf); e == nil {
			for i, l := range p.Labels() {
				outs = append(outs, labelOutcome{version: s.Version, correct: int8(pred[i]) == l})
			}
		}
	}
	if e != nil {
		a.rejectInput(w, e)
		return
	}
	ans.Accepted = len(outs)
	ans.Accuracy = a.feedback.record(outs)
	a.writeJSON(w, http.StatusOK, ans)
}
