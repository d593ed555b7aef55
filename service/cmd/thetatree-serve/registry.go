package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// modelFileName is the file every version directory holds: <MODEL_DIR>/<version>/model.ttm.
const modelFileName = "model.ttm"

// servedModel is one loaded, verified model version plus everything the request path needs,
// computed once at load time. It is reference counted: the registry holds one reference while
// the model is current or kept for rollback, and every request holds one while it runs. The
// underlying thetatree.Model is closed when the count drops to zero, i.e. after the last
// request that saw it has finished.
type servedModel struct {
	model           *thetatree.Model
	version         string // the version directory's name: what the service reports
	path            string
	embeddedVersion string // the version string stored inside the .ttm
	digest          string // SHA-256 of the model bytes (hex)
	signed          bool   // the file carries a signature trailer
	verified        bool   // ... and it was checked against the configured key
	loadedAt        time.Time
	nFeatures       int
	featureNames    []string
	featureIndex    map[string]int
	classes         []string
	metadata        json.RawMessage

	// Pre-encoded JSON fragments for the response.
	versionJSON []byte
	digestJSON  []byte

	refs   atomic.Int64
	closed chan struct{} // closed once the model has been freed
	live   *atomic.Int64 // the registry's count of models not yet freed
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
		_ = s.model.Close()
		if s.live != nil {
			s.live.Add(-1)
		}
		close(s.closed)
	case n < 0:
		panic("thetatree-serve: servedModel released more often than acquired")
	}
}

// Registry owns the model directory and the currently served version.
//
// Layout: <dir>/<version>/model.ttm. Names starting with "." are ignored, so a new version can
// be staged as <dir>/.v7.tmp/model.ttm and published with one rename to <dir>/v7. A published
// version directory is treated as immutable: the registry identifies versions by name.
//
// Selection (startup, SIGHUP, POST /admin/reload): the newest version (compareVersions order)
// that loads and verifies, looking only at versions newer than the one being served; versions
// that fail are refused (logged, counted) and the current model keeps serving. With a pinned
// version only that version is considered. A version that was rolled back away from is skipped
// by automatic selection until it is requested by name or the process restarts.
type Registry struct {
	dir     string
	keyFile string // empty: signatures are not required
	pin     string
	useMmap bool
	keep    int // previously served models kept loaded for instant rollback

	log     *slog.Logger
	metrics *Metrics

	mu       sync.Mutex // serialises reload and rollback
	cur      atomic.Pointer[servedModel]
	history  []*servedModel // previously served, oldest first; each holds a registry reference
	rejected map[string]bool
	closed   bool
	live     atomic.Int64 // models loaded and not yet freed (current, kept, and in use by requests)
}

func NewRegistry(cfg *Config, log *slog.Logger, m *Metrics) *Registry {
	return &Registry{
		dir:      cfg.ModelDir,
		keyFile:  cfg.KeyFile,
		pin:      cfg.PinVersion,
		useMmap:  cfg.Mmap,
		keep:     cfg.KeepVersions,
		log:      log,
		metrics:  m,
		rejected: map[string]bool{},
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

// ReloadResult is what a reload did; it is also the admin endpoint's answer.
type ReloadResult struct {
	Status   string        `json:"status"` // "loaded", "unchanged" or "refused"
	Version  string        `json:"version,omitempty"`
	Digest   string        `json:"digest,omitempty"`
	Previous string        `json:"previous,omitempty"`
	Refused  []loadFailure `json:"refused,omitempty"`
}

var (
	errNoVersions       = errors.New("no model versions found")
	errNoPrevious       = errors.New("no previous version to roll back to")
	errNoModel          = errors.New("no model is loaded")
	errRegistryClosed   = errors.New("registry is closed")
	errUnknownVersion   = errors.New("no such version")
	errInvalidVersionNm = errors.New("invalid version name")
)

// listVersions returns the valid version names found in the directory, newest first.
func (r *Registry) listVersions() ([]string, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if !validVersionName(name) {
			continue
		}
		st, err := os.Stat(filepath.Join(r.dir, name)) // follows symlinks
		if err != nil || !st.IsDir() {
			continue
		}
		out = append(out, name)
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[j], out[i]) })
	return out, nil
}

// Reload picks and loads a version as described on Registry. requested, if not empty, names
// the one version to load (it may be older than the current one, and may be a rejected one).
func (r *Registry) Reload(requested string) (ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ReloadResult{Status: "refused"}, errRegistryClosed
	}
	res, err := r.reloadLocked(requested)
	switch {
	case err != nil || res.Status == "refused":
		r.metrics.reloads.WithLabelValues("failure").Inc()
	case res.Status == "loaded":
		r.metrics.reloads.WithLabelValues("success").Inc()
	default:
		r.metrics.reloads.WithLabelValues("unchanged").Inc()
	}
	return res, err
}

func (r *Registry) reloadLocked(requested string) (ReloadResult, error) {
	cur := r.cur.Load()
	res := ReloadResult{Status: "unchanged"}
	if cur != nil {
		res.Version, res.Digest = cur.version, cur.digest
	}
	if requested != "" && !validVersionName(requested) {
		return res, fmt.Errorf("%w: %q", errInvalidVersionNm, requested)
	}
	versions, err := r.listVersions()
	if err != nil {
		return res, fmt.Errorf("listing %s: %w", r.dir, err)
	}
	var candidates []string
	switch {
	case requested != "":
		if !contains(versions, requested) {
			return res, fmt.Errorf("%w: %q in %s", errUnknownVersion, requested, r.dir)
		}
		if cur != nil && cur.version == requested {
			return res, nil
		}
		candidates = []string{requested}
	case r.pin != "":
		if cur != nil && cur.version == r.pin {
			return res, nil
		}
		if r.rejected[r.pin] {
			return res, nil // rolled back away from the pinned version: stay
		}
		if !contains(versions, r.pin) {
			return res, fmt.Errorf("%w: pinned version %q not in %s", errUnknownVersion, r.pin, r.dir)
		}
		candidates = []string{r.pin}
	default:
		for _, v := range versions {
			if cur != nil && !versionLess(cur.version, v) {
				break // not newer than what is served
			}
			if r.rejected[v] {
				continue
			}
			candidates = append(candidates, v)
		}
		if len(candidates) == 0 {
			if cur == nil {
				return res, fmt.Errorf("%w in %s", errNoVersions, r.dir)
			}
			return res, nil
		}
	}
	for _, v := range candidates {
		s, err := r.load(v)
		if err != nil {
			f := loadFailure{Version: v, Reason: failureReason(err), Error: err.Error()}
			res.Refused = append(res.Refused, f)
			r.metrics.loadFailures.WithLabelValues(f.Reason).Inc()
			r.log.Error("model version refused", "version", v, "reason", f.Reason, "error", err.Error(),
				"serving", res.Version)
			continue
		}
		delete(r.rejected, v)
		prev := r.swapLocked(s, true)
		res.Status, res.Version, res.Digest = "loaded", s.version, s.digest
		if prev != nil {
			res.Previous = prev.version
		}
		return res, nil
	}
	res.Status = "refused"
	if cur == nil {
		return res, fmt.Errorf("no loadable model version in %s (%d refused)", r.dir, len(res.Refused))
	}
	return res, nil
}

// swapLocked makes s current. The previous model is kept for rollback (keepPrev) or released.
func (r *Registry) swapLocked(s *servedModel, keepPrev bool) *servedModel {
	prev := r.cur.Swap(s)
	r.metrics.setModel(s)
	r.log.Info("model version serving", "version", s.version, "digest", s.digest,
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

// Rollback returns to the previously served version (kept loaded, so this is a pointer swap),
// or, when none is kept, to the newest valid version on disk older than the current one. The
// version rolled back from is rejected for automatic selection.
func (r *Registry) Rollback() (ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.rollbackLocked()
	if err != nil {
		r.metrics.rollbacks.WithLabelValues("failure").Inc()
	} else {
		r.metrics.rollbacks.WithLabelValues("success").Inc()
	}
	return res, err
}

func (r *Registry) rollbackLocked() (ReloadResult, error) {
	if r.closed {
		return ReloadResult{Status: "refused"}, errRegistryClosed
	}
	cur := r.cur.Load()
	if cur == nil {
		return ReloadResult{Status: "refused"}, errNoModel
	}
	res := ReloadResult{Status: "refused", Version: cur.version, Digest: cur.digest}
	var target *servedModel
	for len(r.history) > 0 && target == nil {
		h := r.history[len(r.history)-1]
		r.history = r.history[:len(r.history)-1]
		if h.version == cur.version {
			h.release() // same name reloaded by request: not a real previous version
			continue
		}
		target = h
	}
	if target == nil {
		versions, err := r.listVersions()
		if err != nil {
			return res, fmt.Errorf("listing %s: %w", r.dir, err)
		}
		for _, v := range versions {
			if !versionLess(v, cur.version) || r.rejected[v] {
				continue
			}
			s, err := r.load(v)
			if err != nil {
				f := loadFailure{Version: v, Reason: failureReason(err), Error: err.Error()}
				res.Refused = append(res.Refused, f)
				r.metrics.loadFailures.WithLabelValues(f.Reason).Inc()
				r.log.Error("model version refused", "version", v, "reason", f.Reason, "error", err.Error())
				continue
			}
			target = s
			break
		}
	}
	if target == nil {
		return res, errNoPrevious
	}
	r.rejected[cur.version] = true
	r.swapLocked(target, false)
	r.log.Warn("rolled back", "from", cur.version, "to", target.version)
	res.Status, res.Version, res.Digest, res.Previous = "rolled_back", target.version, target.digest, cur.version
	return res, nil
}

// History lists the versions kept loaded for rollback, most recent first.
func (r *Registry) History() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.history))
	for i := len(r.history) - 1; i >= 0; i-- {
		out = append(out, r.history[i].version)
	}
	return out
}

// Close releases the registry's references; each model is freed once its last request ends.
func (r *Registry) Close() {
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

// load opens and verifies one version and prepares everything the request path needs.
func (r *Registry) load(version string) (*servedModel, error) {
	path := filepath.Join(r.dir, version, modelFileName)
	var opts []thetatree.Option
	if !r.useMmap {
		opts = append(opts, thetatree.WithCopy())
	}
	if r.keyFile != "" {
		key, err := readKeyFile(r.keyFile)
		if err != nil {
			return nil, &keyFileError{err}
		}
		opts = append(opts, thetatree.WithKey(key))
	}
	m, err := thetatree.Load(path, opts...)
	if err != nil {
		return nil, err
	}
	s, err := newServedModel(m, version, path, r.keyFile != "")
	if err != nil {
		_ = m.Close()
		return nil, err
	}
	s.live = &r.live
	r.live.Add(1)
	return s, nil
}

func newServedModel(m *thetatree.Model, version, path string, verified bool) (*servedModel, error) {
	s := &servedModel{
		model:           m,
		version:         version,
		path:            path,
		embeddedVersion: m.Version(),
		digest:          m.DigestHex(),
		signed:          m.IsSigned(),
		verified:        verified,
		loadedAt:        time.Now().UTC(),
		nFeatures:       m.NFeatures(),
		featureNames:    m.FeatureNames(),
		classes:         m.ClassLabels(),
		closed:          make(chan struct{}),
	}
	if s.nFeatures <= 0 || len(s.featureNames) != s.nFeatures {
		return nil, fmt.Errorf("model reports %d features but %d names", s.nFeatures, len(s.featureNames))
	}
	s.featureIndex = make(map[string]int, s.nFeatures)
	for i, n := range s.featureNames {
		s.featureIndex[n] = i
	}
	if md := m.MetadataJSON(); md != "" && json.Valid([]byte(md)) {
		s.metadata = json.RawMessage(md)
	}
	s.versionJSON, _ = json.Marshal(version)
	s.digestJSON, _ = json.Marshal(s.digest)
	// Smoke test before the model may serve: one all-missing row through both calls.
	row := make([]int8, s.nFeatures)
	for i := range row {
		row[i] = -1
	}
	labels := make([]int32, 1)
	proba := make([]float64, 2)
	if err := m.PredictInto(row, 1, labels); err != nil {
		return nil, fmt.Errorf("smoke prediction failed: %w", err)
	}
	if err := m.PredictProbaInto(row, 1, proba); err != nil {
		return nil, fmt.Errorf("smoke prediction failed: %w", err)
	}
	s.refs.Store(1)
	return s, nil
}

type keyFileError struct{ err error }

func (e *keyFileError) Error() string { return "signature key: " + e.err.Error() }
func (e *keyFileError) Unwrap() error { return e.err }

// readKeyFile returns the key file's bytes with trailing '\n'/'\r' removed (as the thetatree
// CLI does).
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("key file %s is empty", path)
	}
	return b, nil
}

// failureReason maps a load error to a short, bounded label value for metrics and answers.
func failureReason(err error) string {
	var kfe *keyFileError
	switch {
	case errors.As(err, &kfe):
		return "key_file"
	case errors.Is(err, thetatree.ErrUnsigned):
		return "unsigned"
	case errors.Is(err, thetatree.ErrKeyMismatch):
		return "key_mismatch"
	case errors.Is(err, thetatree.ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, os.ErrNotExist):
		return "missing_file"
	}
	var te *thetatree.Error
	if errors.As(err, &te) {
		return codeName(te)
	}
	return "invalid"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func versionOf(s *servedModel) string {
	if s == nil {
		return ""
	}
	return s.version
}

// codeName is a short lower-case name for a library error code: TT_ERR_CHECKSUM -> checksum.
func codeName(te *thetatree.Error) string {
	return strings.ToLower(strings.TrimPrefix(te.Code.String(), "TT_ERR_"))
}
