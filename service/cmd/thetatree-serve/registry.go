package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	thetatree "github.com/thetatree/thetatree/bindings/go"

	"github.com/thetatree/thetatree/service/internal/modelfile"
	"github.com/thetatree/thetatree/service/internal/predict"
)

// modelFileName is the file every version directory holds: <MODEL_DIR>/<version>/model.ttm.
const modelFileName = "model.ttm"

// servedModel is one loaded, verified model version plus everything the request path needs,
// computed once at load time. It is reference counted: the registry holds one reference while
// the model is current or kept for rollback, and every request holds one while it runs. The
// underlying thetatree.Model is closed when the count drops to zero, i.e. after the last
// request that saw it has finished.
type servedModel struct {
	*predict.Model         // Version is the version directory's name: what the service reports
	path            string // the model file
	embeddedVersion string // the version string stored inside the .ttm
	signed          bool   // the file carries a signature trailer
	verified        bool   // ... and it was checked against the configured key
	loadedAt        time.Time
	metadata        json.RawMessage

	refs   atomic.Int64
	closed chan struct{} // closed once the model has been freed
	live   *atomic.Int64 // the registry's count of models not yet freed
}

func newServedModel(lib *thetatree.Model, version, path string, verified bool) (*servedModel, error) {
	pm, err := predict.NewModel(lib, version)
	if err != nil {
		return nil, err
	}
	s := &servedModel{
		Model:           pm,
		path:            path,
		embeddedVersion: lib.Version(),
		signed:          lib.IsSigned(),
		verified:        verified,
		loadedAt:        time.Now().UTC(),
		closed:          make(chan struct{}),
	}
	if md := lib.MetadataJSON(); md != "" && json.Valid([]byte(md)) {
		s.metadata = json.RawMessage(md)
	}
	s.refs.Store(1)
	return s, nil
}

// acquire takes a reference unless the model has already been released for good.
func (s *servedModel) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one frees the model.
func (s *servedModel) release() {
	switch n := s.refs.Add(-1); {
	case n == 0:
		_ = s.Lib.Close()
		if s.live != nil {
			s.live.Add(-1)
		}
		close(s.closed)
	case n < 0:
		panic("thetatree-serve: servedModel released more often than acquired")
	}
}

func versionOf(s *servedModel) string {
	if s == nil {
		return ""
	}
	return s.Version
}

// Registry owns the model directory and the currently served version.
//
// Layout: <dir>/<version>/model.ttm. Names starting with "." are ignored, so a new version can
// be staged as <dir>/.v7.tmp/model.ttm and published with one rename to <dir>/v7. Published
// versions are identified by name plus the file's identity (size, mtime, inode, digest).
//
// Selection (startup, SIGHUP, POST /admin/reload): the newest version (compareVersions order)
// that loads and verifies, looking only at versions newer than the one being served; versions
// that fail are refused (logged, counted once) and the current model keeps serving. A pinned
// version (MODEL_VERSION, or the last one loaded by name) is the only one considered until
// unpinned. A version that was rolled back away from is skipped by automatic selection until
// it is requested by name or the process restarts. A refused version is not retried until
// its file (or the signing key) changes.
//
// Loads never block anything else: the file I/O and validation run in one loader goroutine,
// outside the state lock and under a deadline (see loader.go). Requests, /v1/model, /ready,
// rollback to a kept version and shutdown never wait for a load.
type Registry struct {
	dir           string
	keyFile       string // empty: signatures are not required
	useMmap       bool
	keep          int // previously served models kept loaded for instant rollback
	policy        modelfile.Policy
	maxModelBytes int64
	loadTimeout   time.Duration

	log     *slog.Logger
	metrics *Metrics

	loading  chan struct{} // one token, held while a loader goroutine runs
	stopping chan struct{} // closed by Stop: load waiters give up

	mu      sync.Mutex // guards the fields below; never held during I/O
	cur     atomic.Pointer[servedModel]
	history []*servedModel // previously served, oldest first; each holds a registry reference
	pin     string
	skipped map[string]bool     // rolled back away from: skipped by automatic selection
	refused map[string]*refusal // versions refused, until their file or the key changes
	gen     uint64              // bumped by every swap: a load started before a swap is stale
	closed  bool
	live    atomic.Int64 // models loaded and not yet freed (current, kept, and in use by requests)

	stopOnce sync.Once

	warnMu sync.Mutex
	warned map[string]string // directory entries warned about (name -> reason), once each

	// testHookLoad, when set, runs in the loader before each version is opened (tests use it
	// to simulate a hung file system). Guarded by mu.
	testHookLoad func(version string)
}

func NewRegistry(cfg *Config, log *slog.Logger, m *Metrics) *Registry {
	return &Registry{
		dir:           cfg.ModelDir,
		keyFile:       cfg.KeyFile,
		useMmap:       cfg.Mmap,
		keep:          cfg.KeepVersions,
		policy:        modelfile.Policy{Root: cfg.ModelDir, FollowExternal: cfg.FollowExternalSymlinks},
		maxModelBytes: cfg.MaxModelBytes,
		loadTimeout:   cfg.LoadTimeout,
		log:           log,
		metrics:       m,
		loading:       make(chan struct{}, 1),
		stopping:      make(chan struct{}),
		pin:           cfg.PinVersion,
		skipped:       map[string]bool{},
		refused:       map[string]*refusal{},
		warned:        map[string]string{},
	}
}

// Acquire returns the current model with a reference held (call release when done), or nil if
// no model is loaded. A request that acquired a model keeps using it even if a reload swaps in
// another version meanwhile: no request ever sees two versions.
func (r *Registry) Acquire() *servedModel {
	for {
		s := r.cur.Load()
		if s == nil {
			return nil
		}
		if s.acquire() {
			return s
		}
		// s was swapped out and freed between Load and acquire: cur has moved on.
	}
}

// Current returns the current model without taking a reference (for metadata only: fields
// set at load time stay valid after the model is freed).
func (r *Registry) Current() *servedModel { return r.cur.Load() }

// loadFailure describes one version that was refused.
type loadFailure struct {
	Version string `json:"version"`
	Reason  string `json:"reason"`
	Error   string `json:"error"`
}

// ReloadResult is what a reload or rollback did; it is also the admin endpoints' answer.
type ReloadResult struct {
	// loaded, unchanged, refused, rolled_back, busy, timeout or superseded
	Status   string `json:"status"`
	Version  string `json:"version,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Previous string `json:"previous,omitempty"`
	Pinned   string `json:"pinned,omitempty"`
	// Refused are the versions this call tried and refused; Skipped were refused before and
	// have not changed since, so they were not tried again.
	Refused []loadFailure `json:"refused,omitempty"`
	Skipped []loadFailure `json:"skipped,omitempty"`
}

var (
	errNoVersions       = errors.New("no model versions found")
	errNoPrevious       = errors.New("no previous version to roll back to")
	errNoModel          = errors.New("no model is loaded")
	errRegistryClosed   = errors.New("the registry is shutting down")
	errUnknownVersion   = errors.New("no such version")
	errInvalidVersionNm = errors.New("invalid version name")
	errBusy             = errors.New("a model load is already running")
	errLoadTimeout      = errors.New("the model load did not finish in time")
	errSuperseded       = errors.New("the served version changed while loading (a rollback); not swapped")
)

// Reload loads per the selection rules (requested == ""), or the named version, which it then
// pins. See loader.go.
func (r *Registry) Reload(requested string) (ReloadResult, error) {
	if requested != "" {
		return r.runJob(jobNamed, requested)
	}
	return r.runJob(jobAuto, "")
}

// Unpin drops the pin (MODEL_VERSION or a load by name) and reloads per the selection rules.
func (r *Registry) Unpin() (ReloadResult, error) {
	r.mu.Lock()
	r.pin = ""
	r.mu.Unlock()
	return r.runJob(jobAuto, "")
}

// Pin is the pinned version ("" when selection is automatic).
func (r *Registry) Pin() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pin
}

// swapLocked makes s current. The previous model is kept for rollback (keepPrev) or released.
func (r *Registry) swapLocked(s *servedModel, keepPrev bool) *servedModel {
	prev := r.cur.Swap(s)
	r.gen++
	r.metrics.setModel(s)
	r.log.Info("model version serving", "version", s.Version, "digest", s.Digest,
		"embedded_version", s.embeddedVersion, "signed", s.signed, "verified", s.verified,
		"previous", versionOf(prev))
	if prev != nil {
		if keepPrev && r.keep > 0 {
			r.history = append(r.history, prev)
			for len(r.history) > r.keep {
				r.history[0].release()
				r.history = r.history[1:]
			}
		} else {
			prev.release()
		}
	}
	return prev
}

// Rollback returns to the previously served version (kept loaded, so this is a pointer swap
// that never waits for a load), or, when none is kept, loads the newest valid version on disk
// older than the current one. The version rolled back from is skipped by automatic
// selection; a pin moves to the version rolled back to.
func (r *Registry) Rollback() (ReloadResult, error) {
	res, err, needLoad := r.rollbackToKept()
	if needLoad {
		res, err = r.runJob(jobRollback, "")
	}
	if err != nil || res.Status != "rolled_back" {
		r.metrics.rollbacks.WithLabelValues("failure").Inc()
		if err == nil {
			err = errNoPrevious
		}
	} else {
		r.metrics.rollbacks.WithLabelValues("success").Inc()
	}
	return res, err
}

func (r *Registry) rollbackToKept() (res ReloadResult, err error, needLoad bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.stopped() {
		return ReloadResult{Status: "refused"}, errRegistryClosed, false
	}
	cur := r.cur.Load()
	if cur == nil {
		return ReloadResult{Status: "refused"}, errNoModel, false
	}
	var target *servedModel
	for len(r.history) > 0 && target == nil {
		h := r.history[len(r.history)-1]
		r.history = r.history[:len(r.history)-1]
		if h.Version == cur.Version {
			h.release() // same name reloaded by request: not a real previous version
			continue
		}
		target = h
	}
	if target == nil {
		return ReloadResult{}, nil, true
	}
	r.finishRollbackLocked(cur.Version, target)
	r.swapLocked(target, false)
	return ReloadResult{Status: "rolled_back", Version: target.Version, Digest: target.Digest,
		Previous: cur.Version, Pinned: r.pin}, nil, false
}

func (r *Registry) finishRollbackLocked(from string, to *servedModel) {
	r.skipped[from] = true
	if r.pin != "" {
		r.pin = to.Version
	}
	r.log.Warn("rolled back", "from", from, "to", to.Version)
}

// History lists the versions kept loaded for rollback, most recent first.
func (r *Registry) History() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.history))
	for i := len(r.history) - 1; i >= 0; i-- {
		out = append(out, r.history[i].Version)
	}
	return out
}

func (r *Registry) stopped() bool {
	select {
	case <-r.stopping:
		return true
	default:
		return false
	}
}

// Stop makes callers waiting for a load return, and refuses new loads and rollbacks; the
// current model keeps serving until Close.
func (r *Registry) Stop() {
	r.stopOnce.Do(func() { close(r.stopping) })
}

// Close releases the registry's references; each model is freed once its last request ends.
// It never waits for a load: a loader still running discards what it loads.
func (r *Registry) Close() {
	r.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	if s := r.cur.Swap(nil); s != nil {
		s.release()
	}
	for _, h := range r.history {
		h.release()
	}
	r.history = nil
	r.metrics.setModel(nil)
}
