package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	thetatree "github.com/thetatree/thetatree/bindings/go"

	"github.com/thetatree/thetatree/service/internal/modelfile"
	"github.com/thetatree/thetatree/service/internal/predict"
)

// How loads run. One loader goroutine at a time does all file I/O and validation, with no lock
// held; the caller waits for it at most LOAD_TIMEOUT. A load that outlives its deadline (a
// hung network mount) keeps the loader token until the kernel returns, so at most one
// goroutine is ever stuck, and later reloads answer "busy" at once instead of piling up.
// What the loader produces is committed under the state lock only if its caller still
// waits and no swap happened since it started.

type jobKind int

const (
	jobAuto     jobKind = iota // selection rules: newest valid, or the pin
	jobNamed                   // one version by name (then pinned)
	jobRollback                // newest valid version older than the current one
)

// job is one load: a snapshot of the state it was started from, and how it ended.
type job struct {
	kind      jobKind
	name      string
	current   string // version served when the job started
	gen       uint64
	pin       string
	skipped   map[string]bool
	refused   map[string]*refusal
	trying    string // the version being loaded (guarded by Registry.mu)
	abandoned bool   // the caller gave up waiting (guarded by Registry.mu)
	committed bool   // the outcome was applied (guarded by Registry.mu)
	done      chan outcome
}

type outcome struct {
	res       ReloadResult
	err       error
	loaded    *servedModel
	refusals  map[string]*refusal // new or changed refusals to remember
	forgotten []string            // versions that now load: forget their refusal
}

// refusal is how a refused version looked, so an unchanged one is not tried again.
type refusal struct {
	failure loadFailure
	stat    modelfile.Stat // zero if the file could not be stat'ed
	digest  [32]byte       // of the bytes, when they were read
	keyID   [32]byte       // SHA-256 of the signing key in force (zero: none)
}

func (f *refusal) sameFile(st modelfile.Stat, keyID [32]byte) bool {
	return f.stat == st && f.keyID == keyID
}

// runJob starts a load and waits for it, at most loadTimeout.
func (r *Registry) runJob(kind jobKind, name string) (ReloadResult, error) {
	if name != "" && !validVersionName(name) {
		return r.statusResult("refused"), fmt.Errorf("%w: %q", errInvalidVersionNm, predict.Truncate(name, 200))
	}
	select {
	case r.loading <- struct{}{}:
	default:
		r.countReload(kind, "busy")
		return r.statusResult("busy"), errBusy
	}
	j, err := r.startJob(kind, name)
	if err != nil {
		<-r.loading
		return r.statusResult("refused"), err
	}
	go func() {
		o := r.work(j)
		r.commit(j, &o)
		r.logRefusals(o.res.Refused)
		<-r.loading
		j.done <- o
	}()
	timer := time.NewTimer(r.loadTimeout)
	defer timer.Stop()
	var o outcome
	select {
	case o = <-j.done:
	case <-timer.C:
		o = r.giveUp(j, errLoadTimeout)
	case <-r.stopping:
		o = r.giveUp(j, errRegistryClosed)
	}
	r.countOutcome(j, &o)
	return o.res, o.err
}

func (r *Registry) startJob(kind jobKind, name string) (*job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.stopped() {
		return nil, errRegistryClosed
	}
	j := &job{kind: kind, name: name, current: versionOf(r.cur.Load()), gen: r.gen, pin: r.pin,
		skipped: make(map[string]bool, len(r.skipped)), refused: make(map[string]*refusal, len(r.refused)),
		done: make(chan outcome, 1)}
	for k, v := range r.skipped {
		j.skipped[k] = v
	}
	for k, v := range r.refused {
		j.refused[k] = v
	}
	if kind == jobRollback && j.current == "" {
		return nil, errNoModel
	}
	return j, nil
}

// giveUp abandons a job that did not finish in time, unless it committed meanwhile.
func (r *Registry) giveUp(j *job, why error) outcome {
	r.mu.Lock()
	if j.committed {
		r.mu.Unlock()
		return <-j.done
	}
	j.abandoned = true
	trying := j.trying
	r.mu.Unlock()
	res := r.statusResult("timeout")
	if why == errRegistryClosed {
		res.Status = "refused"
		return outcome{res: res, err: why}
	}
	f := loadFailure{Version: trying, Reason: "timeout",
		Error: fmt.Sprintf("no answer from the file system within %s (LOAD_TIMEOUT); still serving %s", r.loadTimeout, j.current)}
	if trying == "" {
		f.Error = fmt.Sprintf("listing %s took longer than %s (LOAD_TIMEOUT)", r.dir, r.loadTimeout)
	}
	res.Refused = []loadFailure{f}
	r.logRefusals(res.Refused)
	r.metrics.loadFailures.WithLabelValues("timeout").Inc()
	return outcome{res: res, err: why}
}

func (r *Registry) statusResult(status string) ReloadResult {
	res := ReloadResult{Status: status, Pinned: r.Pin()}
	if cur := r.cur.Load(); cur != nil {
		res.Version, res.Digest = cur.Version, cur.Digest
	}
	return res
}

// work is the loader: it lists the directory, picks candidates and loads them in order until
// one succeeds. It takes no lock except to check whether its caller gave up.
func (r *Registry) work(j *job) outcome {
	o := outcome{res: ReloadResult{Status: "unchanged", Version: j.current, Pinned: j.pin},
		refusals: map[string]*refusal{}}
	versions, problems, err := r.scan()
	if err != nil {
		o.res.Status = "refused"
		o.err = fmt.Errorf("listing %s: %w", r.dir, err)
		return o
	}
	candidates, err := j.candidates(versions, problems)
	if err != nil || len(candidates) == 0 {
		o.err = err
		if err == nil && j.current == "" {
			o.err = fmt.Errorf("%w in %s", errNoVersions, r.dir)
		}
		if err == nil && j.kind == jobRollback {
			o.err = errNoPrevious
		}
		return o
	}
	keyID, key, keyErr := r.readKey()
	for _, v := range candidates {
		ok, hook := r.beginCandidate(j, v)
		if !ok {
			return o
		}
		if keyErr != nil {
			o.res.Refused = append(o.res.Refused, loadFailure{Version: v, Reason: "key_file", Error: keyErr.Error()})
			break // the key is not the version's fault: try again next time
		}
		if p, ok := problems[v]; ok {
			o.noteRefusal(j, v, p, keyID)
			continue
		}
		if hook != nil {
			hook(v)
		}
		prev := j.refused[v]
		if j.kind == jobNamed {
			prev = nil // asked for by name: try again, and say why it fails
		}
		s, f, err := r.loadVersion(v, key, keyID, prev)
		switch {
		case err == nil:
			o.loaded = s
			if j.refused[v] != nil {
				o.forgotten = append(o.forgotten, v)
			}
			return o
		case errors.Is(err, errUnchangedRefusal):
			o.res.Skipped = append(o.res.Skipped, f.failure)
			if f != j.refused[v] {
				o.refusals[v] = f // same bytes under a new stat: remember the new one
			}
		default:
			o.res.Refused = append(o.res.Refused, f.failure)
			o.refusals[v] = f
		}
	}
	if len(o.res.Refused) > 0 {
		o.res.Status = "refused"
	}
	return o
}

// noteRefusal records a version the directory scan already refused (a symlink out of
// MODEL_DIR), once (every time when asked for by name).
func (o *outcome) noteRefusal(j *job, v string, p *modelfile.Error, keyID [32]byte) {
	if prev := j.refused[v]; prev != nil && prev.failure.Reason == p.Reason && j.kind != jobNamed {
		o.res.Skipped = append(o.res.Skipped, prev.failure)
		return
	}
	f := &refusal{failure: loadFailure{Version: v, Reason: p.Reason, Error: p.Error()}, keyID: keyID}
	o.res.Refused = append(o.res.Refused, f.failure)
	o.refusals[v] = f
}

// candidates are the versions a job tries, in order.
func (j *job) candidates(versions []string, problems map[string]*modelfile.Error) ([]string, error) {
	switch {
	case j.kind == jobNamed:
		if !contains(versions, j.name) {
			if _, ok := problems[j.name]; !ok {
				return nil, fmt.Errorf("%w: %q", errUnknownVersion, j.name)
			}
		}
		if j.current == j.name {
			return nil, nil
		}
		return []string{j.name}, nil
	case j.kind == jobAuto && j.pin != "":
		if j.current == j.pin || j.skipped[j.pin] {
			return nil, nil
		}
		if !contains(versions, j.pin) {
			if _, ok := problems[j.pin]; !ok {
				return nil, fmt.Errorf("%w: pinned version %q", errUnknownVersion, j.pin)
			}
		}
		return []string{j.pin}, nil
	}
	all := append([]string(nil), versions...)
	for v := range problems {
		all = append(all, v)
	}
	sort.Slice(all, func(a, b int) bool { return versionLess(all[b], all[a]) })
	var out []string
	for _, v := range all {
		if j.skipped[v] || v == j.current {
			continue
		}
		newer := j.current == "" || versionLess(j.current, v)
		if (j.kind == jobAuto && newer) || (j.kind == jobRollback && !newer) {
			out = append(out, v)
		}
	}
	return out, nil
}

// beginCandidate notes the version the loader is about to try; false if the caller gave up.
func (r *Registry) beginCandidate(j *job, v string) (bool, func(string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j.trying = v
	return !j.abandoned && !r.closed, r.testHookLoad
}

// setTestHook installs testHookLoad.
func (r *Registry) setTestHook(f func(version string)) {
	r.mu.Lock()
	r.testHookLoad = f
	r.mu.Unlock()
}

// commit applies a finished job: remembers refusals, and swaps in the loaded model if the
// caller still waits, the registry is open and no swap happened since the job started.
func (r *Registry) commit(j *job, o *outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for v, f := range o.refusals {
		r.refused[v] = f
	}
	for _, v := range o.forgotten {
		delete(r.refused, v)
	}
	s := o.loaded
	if s == nil {
		if j.kind == jobNamed && o.err == nil && j.current == j.name && r.gen == j.gen && !j.abandoned {
			r.pin = j.name // already served: hold it
			o.res.Pinned = r.pin
		}
		return
	}
	o.loaded = nil
	switch {
	case j.abandoned || r.closed:
		s.release()
		return
	case r.gen != j.gen:
		s.release()
		o.res.Status, o.res.Version, o.res.Pinned = "superseded", versionOf(r.cur.Load()), r.pin
		o.err = errSuperseded
		j.committed = true
		return
	}
	s.live = &r.live
	r.live.Add(1)
	delete(r.refused, s.Version)
	switch j.kind {
	case jobNamed:
		r.pin = s.Version
		delete(r.skipped, s.Version)
	case jobRollback:
		r.finishRollbackLocked(j.current, s)
	}
	prev := r.swapLocked(s, j.kind != jobRollback)
	o.res.Status, o.res.Version, o.res.Digest, o.res.Pinned = "loaded", s.Version, s.Digest, r.pin
	if j.kind == jobRollback {
		o.res.Status = "rolled_back"
	}
	o.res.Previous = versionOf(prev)
	j.committed = true
}

// logRefusals logs and counts refusals; each refused version is logged once, since an
// unchanged one is not tried again.
func (r *Registry) logRefusals(refused []loadFailure) {
	for _, f := range refused {
		r.log.Error("model version refused", "version", f.Version, "reason", f.Reason, "error", f.Error,
			"serving", versionOf(r.cur.Load()))
		if f.Reason != "timeout" {
			r.metrics.loadFailures.WithLabelValues(f.Reason).Inc()
		}
	}
}

// countOutcome updates the reload metrics. Requests that could not be a reload (a bad or
// unknown name) are not counted: they are the caller's mistake, not a failed load.
func (r *Registry) countOutcome(j *job, o *outcome) {
	if errors.Is(o.err, errUnknownVersion) || errors.Is(o.err, errRegistryClosed) {
		return
	}
	result := "unchanged"
	switch {
	case errors.Is(o.err, errSuperseded):
		result = "superseded"
	case o.res.Status == "loaded" || o.res.Status == "rolled_back":
		result = "success"
	case o.err != nil || o.res.Status == "refused" || o.res.Status == "timeout":
		result = "failure"
	}
	r.countReload(j.kind, result)
}

func (r *Registry) countReload(kind jobKind, result string) {
	if kind == jobRollback {
		return // counted by Rollback
	}
	r.metrics.reloads.WithLabelValues(result).Inc()
}

// scan lists the version directories. Entries that cannot be versions are logged once each
// (hidden names are staging directories and skipped silently); entries with a version name
// that the policy refuses (a symlink out of MODEL_DIR, not a directory) are returned in
// problems.
func (r *Registry) scan() ([]string, map[string]*modelfile.Error, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	problems := map[string]*modelfile.Error{}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !validVersionName(name) {
			r.warnEntry(name, "not a valid version name (printable ASCII without spaces, slashes or quotes, at most 128 bytes)")
			continue
		}
		if _, err := r.policy.Dir(filepath.Join(r.dir, name)); err != nil {
			var me *modelfile.Error
			if errors.As(err, &me) && me.Reason != modelfile.ReasonNotADirectory {
				problems[name] = me
			}
			r.warnEntry(name, err.Error())
			continue
		}
		out = append(out, name)
	}
	return out, problems, nil
}

// warnEntry logs a warning about a MODEL_DIR entry once per (name, reason).
func (r *Registry) warnEntry(name, reason string) {
	r.warnMu.Lock()
	defer r.warnMu.Unlock()
	if r.warned[name] == reason || len(r.warned) >= 1024 {
		return
	}
	r.warned[name] = reason
	r.log.Warn("ignoring model directory entry", "entry", predict.Truncate(strconv.Quote(name), 200), "reason", reason)
}

var errUnchangedRefusal = errors.New("refused before and unchanged since")

// readKey reads the signing key (re-read at every load: key rotation).
func (r *Registry) readKey() (id [32]byte, key []byte, err error) {
	if r.keyFile == "" {
		return id, nil, nil
	}
	key, err = modelfile.ReadKey(r.keyFile)
	if err != nil {
		return id, nil, &keyFileError{err}
	}
	return sha256.Sum256(key), key, nil
}

// loadVersion opens (regular files only, non-blocking), reads and validates one version.
// prev, if set, is how the version looked when it was last refused: if neither its file nor
// the key changed, it is not loaded again (errUnchangedRefusal).
func (r *Registry) loadVersion(v string, key []byte, keyID [32]byte, prev *refusal) (*servedModel, *refusal, error) {
	path := filepath.Join(r.dir, v, modelFileName)
	fail := func(st modelfile.Stat, digest [32]byte, err error) (*servedModel, *refusal, error) {
		f := &refusal{failure: loadFailure{Version: v, Reason: failureReason(err), Error: err.Error()},
			stat: st, digest: digest, keyID: keyID}
		if prev != nil && prev.failure.Reason == f.failure.Reason && prev.sameFile(st, keyID) {
			return nil, prev, errUnchangedRefusal
		}
		return nil, f, err
	}
	file, st, err := r.policy.Open(path, r.maxModelBytes)
	if err != nil {
		return fail(lstat(path), [32]byte{}, err)
	}
	defer file.Close()
	if prev != nil && prev.sameFile(st, keyID) {
		return nil, prev, errUnchangedRefusal
	}
	var opts []thetatree.Option
	if key != nil {
		opts = append(opts, thetatree.WithKey(key))
	}
	var lib *thetatree.Model
	var digest [32]byte
	if r.useMmap {
		// The library maps the descriptor already checked (not the path again).
		lib, err = thetatree.Load(descriptorPath(file, path), opts...)
		if err != nil {
			digest = hashFile(file)
		}
	} else {
		var b []byte
		if b, err = modelfile.ReadAll(file, st); err == nil {
			digest = sha256.Sum256(b)
			if prev != nil && prev.digest == digest && prev.keyID == keyID {
				same := *prev // touched or copied, same bytes: still refused, as this file
				same.stat = st
				return nil, &same, errUnchangedRefusal
			}
			lib, err = thetatree.LoadBytes(b, opts...)
		}
	}
	if err != nil {
		return fail(st, digest, err)
	}
	s, err := newServedModel(lib, v, path, key != nil)
	if err != nil {
		_ = lib.Close()
		return fail(st, digest, err)
	}
	return s, nil, nil
}

// descriptorPath names an open file by descriptor (/proc/self/fd/N on Linux), so the library
// opens the very file that was checked; elsewhere the path itself.
func descriptorPath(f *os.File, path string) string {
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return path
}

func hashFile(f *os.File) [32]byte {
	var d [32]byte
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		if _, err := io.Copy(h, f); err == nil {
			copy(d[:], h.Sum(nil))
		}
	}
	return d
}

func lstat(path string) modelfile.Stat {
	st, err := modelfile.Lstat(path)
	if err != nil {
		return modelfile.Stat{}
	}
	return st
}

type keyFileError struct{ err error }

func (e *keyFileError) Error() string { return "signature key: " + e.err.Error() }
func (e *keyFileError) Unwrap() error { return e.err }

// failureReason maps a load error to a short, bounded label value for metrics and answers.
func failureReason(err error) string {
	var kfe *keyFileError
	var me *modelfile.Error
	var te *thetatree.Error
	switch {
	case errors.As(err, &kfe):
		return "key_file"
	case errors.As(err, &me):
		return me.Reason
	case errors.Is(err, thetatree.ErrUnsigned):
		return "unsigned"
	case errors.Is(err, thetatree.ErrKeyMismatch):
		return "key_mismatch"
	case errors.Is(err, thetatree.ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, os.ErrNotExist):
		return "missing_file"
	case errors.As(err, &te):
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

// codeName is a short lower-case name for a library error code: TT_ERR_CHECKSUM -> checksum.
func codeName(te *thetatree.Error) string {
	return strings.ToLower(strings.TrimPrefix(te.Code.String(), "TT_ERR_"))
}
