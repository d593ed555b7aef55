// Package thetatree serves theta-sketch decision trees compiled to .ttm files, through the
// thetatree C ABI (thetatree.h), statically linked by default.
//
// The C library is found with pkg-config: install it first (cmake --install, see the README),
// then point PKG_CONFIG_PATH at <prefix>/lib/pkgconfig. By default the package links
// libthetatree.a (pkg-config module thetatree-static), so Go binaries need no shared library
// at run time; build with -tags thetatree_shared to link libthetatree.so (module thetatree)
// instead.
//
// A *Model is safe for concurrent use by any number of goroutines. Close releases it; it
// waits for predictions in flight, and later predictions fail with ErrClosed. A model that
// is never closed is released by a finalizer, but Close it: the finalizer runs late or never.
//
// Input rows are row-major, NFeatures() values per row, in feature-index order:
//   - int8:    0 absent, 1 present, -1 missing
//   - float64: 0 (or -0) absent, 1 present, NaN missing
//
// A missing value follows the child with more training samples (left on a tie). Any other
// value fails with ErrInputValue, whose Row and Column name the offending cell. Values are
// checked where the traversal reads them, so on that error the outputs of earlier rows may
// already have been written.
package thetatree

/*
// The include directory and the library come from pkg-config: see link_static.go and
// link_shared.go.

// The library never retains pointers it is given (tt_load_bytes copies unless TT_LOAD_BORROW,
// which this binding never passes) and never calls back into Go. Declaring that lets the Go
// compiler keep the tt_error and out-parameters on the goroutine stack: zero allocations.
#cgo noescape tt_load
#cgo noescape tt_load_verified
#cgo noescape tt_load_bytes
#cgo noescape tt_load_bytes_verified
#cgo noescape tt_predict
#cgo noescape tt_predict_proba
#cgo noescape tt_predict_f64
#cgo noescape tt_predict_proba_f64
#cgo noescape tt_feature_name
#cgo noescape tt_feature_index
#cgo noescape tt_class_label
#cgo noescape tt_model_digest
#cgo nocallback tt_load
#cgo nocallback tt_load_verified
#cgo nocallback tt_load_bytes
#cgo nocallback tt_load_bytes_verified
#cgo nocallback tt_predict
#cgo nocallback tt_predict_proba
#cgo nocallback tt_predict_f64
#cgo nocallback tt_predict_proba_f64
#cgo nocallback tt_feature_name
#cgo nocallback tt_feature_index
#cgo nocallback tt_class_label
#cgo nocallback tt_model_digest

#include <stdlib.h>
#include "thetatree.h"

// The C ABI rejects NULL data pointers even for zero-length buffers; empty Go slices have no
// element to point at, so they are passed as these (never read or written: length 0).
// Not static: Go code can only take the address of a C variable with external linkage.
int8_t ttgo_empty_i8[1];
double ttgo_empty_f64[1];
int32_t ttgo_empty_i32[1];
uint8_t ttgo_empty_u8[1];
*/
import "C"

import (
	"encoding/hex"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// HeaderABIVersion is TT_ABI_VERSION of the thetatree.h this package was compiled against.
const HeaderABIVersion = uint32(C.TT_ABI_VERSION)

// LibraryABIVersion returns tt_abi_version() of the linked library.
func LibraryABIVersion() uint32 { return uint32(C.tt_abi_version()) }

// LibraryVersion returns the linked library's version, e.g. "0.1.0".
func LibraryVersion() string { return C.GoString(C.tt_version_string()) }

var (
	abiOnce sync.Once
	abiErr  error
)

// checkABI compares the header's ABI version with the linked library's, once per process.
func checkABI() error {
	abiOnce.Do(func() { abiErr = abiMismatch(HeaderABIVersion, LibraryABIVersion()) })
	return abiErr
}

func abiMismatch(header, library uint32) error {
	if header == library {
		return nil
	}
	return newError(ErrABI,
		"thetatree.h declares ABI version %d but the linked libthetatree implements ABI version %d; "+
			"rebuild the library (cargo build --release) from the same sources as the header",
		header, library)
}

// Option configures Load and LoadBytes.
type Option func(*loadConfig)

type loadConfig struct {
	flags  C.uint32_t
	hasKey bool
	key    []byte
}

// WithCopy reads the file into memory owned by the library instead of memory-mapping it
// (TT_LOAD_COPY). Use it when model files may be rewritten in place: a mapped file must only
// ever be replaced by writing a new file and renaming it over the old one. LoadBytes always
// copies, with or without this option.
func WithCopy() Option {
	return func(c *loadConfig) { c.flags |= C.TT_LOAD_COPY }
}

// WithKey requires a valid HMAC-SHA256 signature made with key (tt_load_verified): loading
// fails with ErrUnsigned, ErrKeyMismatch, ErrBadSignature, or ErrNoKey for an empty key.
// The key is copied.
func WithKey(key []byte) Option {
	k := append([]byte(nil), key...)
	return func(c *loadConfig) {
		c.hasKey = true
		c.key = k
	}
}

func configure(opts []Option) loadConfig {
	var c loadConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// Model is a loaded, validated, immutable model. It is safe for concurrent use.
type Model struct {
	// mu guards ptr: C calls hold the read lock; Close holds the write lock, so it waits for
	// calls in flight and tt_free never races with another call on the model.
	mu  sync.RWMutex
	ptr *C.tt_model // nil once closed

	// Metadata copied at load: read without locking, and valid after Close.
	nFeatures    int
	nClasses     int
	nNodes       int
	nLeaves      int
	maxDepth     int
	featureNames []string
	featureIndex map[string]int
	classLabels  []string
	version      string
	metadataJSON string
	crc32        uint32
	digest       [32]byte
	signed       bool
}

// Load loads and fully validates a .ttm model file. By default the file is memory-mapped
// (see WithCopy); WithKey also verifies its signature.
func Load(path string, opts ...Option) (*Model, error) {
	if err := checkABI(); err != nil {
		return nil, err
	}
	cfg := configure(opts)
	if strings.IndexByte(path, 0) >= 0 {
		return nil, newError(ErrIO, "path %q contains a NUL byte", path)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var (
		out  *C.tt_model
		cerr C.tt_error
		rc   C.int32_t
	)
	if cfg.hasKey {
		rc = C.tt_load_verified(cpath, u8ptr(cfg.key), C.size_t(len(cfg.key)), cfg.flags, &out, &cerr)
	} else {
		rc = C.tt_load(cpath, cfg.flags, &out, &cerr)
	}
	runtime.KeepAlive(cfg.key)
	if rc != C.TT_OK {
		return nil, fromC(rc, &cerr)
	}
	return newModel(out)
}

// LoadBytes loads and fully validates a model from memory. The library always copies the
// bytes (the caller may reuse b at once); WithKey also verifies the signature.
func LoadBytes(b []byte, opts ...Option) (*Model, error) {
	if err := checkABI(); err != nil {
		return nil, err
	}
	cfg := configure(opts)
	// Never TT_LOAD_BORROW: C must not retain a pointer into Go memory. Without it the
	// library copies into its own aligned buffer (TT_LOAD_COPY is allowed and redundant).
	flags := cfg.flags &^ C.TT_LOAD_BORROW
	var (
		out  *C.tt_model
		cerr C.tt_error
		rc   C.int32_t
	)
	if cfg.hasKey {
		rc = C.tt_load_bytes_verified(u8ptr(b), C.size_t(len(b)), u8ptr(cfg.key), C.size_t(len(cfg.key)), flags, &out, &cerr)
	} else {
		rc = C.tt_load_bytes(u8ptr(b), C.size_t(len(b)), flags, &out, &cerr)
	}
	runtime.KeepAlive(b)
	runtime.KeepAlive(cfg.key)
	if rc != C.TT_OK {
		return nil, fromC(rc, &cerr)
	}
	return newModel(out)
}

// newModel takes ownership of p: it copies the metadata and arms the finalizer, or frees p.
func newModel(p *C.tt_model) (*Model, error) {
	m := &Model{
		ptr:          p,
		nFeatures:    int(C.tt_n_features(p)),
		nClasses:     int(C.tt_n_classes(p)),
		nNodes:       int(C.tt_n_nodes(p)),
		nLeaves:      int(C.tt_n_leaves(p)),
		maxDepth:     int(C.tt_max_depth(p)),
		version:      C.GoString(C.tt_model_version(p)),
		metadataJSON: C.GoString(C.tt_metadata_json(p)),
		crc32:        uint32(C.tt_model_crc32(p)),
		signed:       C.tt_model_is_signed(p) != 0,
	}
	err := func() error {
		var cerr C.tt_error
		var s *C.char
		m.featureNames = make([]string, m.nFeatures)
		for i := range m.featureNames {
			if rc := C.tt_feature_name(p, C.size_t(i), &s, &cerr); rc != C.TT_OK {
				return fromC(rc, &cerr)
			}
			m.featureNames[i] = C.GoString(s)
		}
		m.featureIndex = make(map[string]int, len(m.featureNames))
		for i, name := range m.featureNames {
			m.featureIndex[name] = i
		}
		m.classLabels = make([]string, m.nClasses)
		for i := range m.classLabels {
			if rc := C.tt_class_label(p, C.size_t(i), &s, &cerr); rc != C.TT_OK {
				return fromC(rc, &cerr)
			}
			m.classLabels[i] = C.GoString(s)
		}
		if rc := C.tt_model_digest(p, (*C.uint8_t)(unsafe.Pointer(&m.digest[0])), C.size_t(len(m.digest)), &cerr); rc != C.TT_OK {
			return fromC(rc, &cerr)
		}
		return nil
	}()
	if err != nil {
		C.tt_free(p)
		return nil, err
	}
	runtime.SetFinalizer(m, (*Model).finalize)
	return m, nil
}

// finalizeHook, when set (by tests), is called by every finalizer run with the model's
// address and whether the finalizer freed it.
var finalizeHook atomic.Pointer[func(m uintptr, freed bool)]

// finalize is the safety net for a Model dropped without Close.
func (m *Model) finalize() {
	// Unreachable, so no call can be in flight: no lock needed, but take it for the race
	// detector's sake (it is uncontended).
	m.mu.Lock()
	p := m.ptr
	m.ptr = nil
	m.mu.Unlock()
	if p != nil {
		C.tt_free(p)
	}
	if h := finalizeHook.Load(); h != nil {
		(*h)(uintptr(unsafe.Pointer(m)), p != nil)
	}
}

// Close releases the model. It waits for predictions in flight on other goroutines;
// predictions that start afterwards fail with ErrClosed. Close is idempotent and always
// returns nil. The metadata (copied at load) stays readable after Close.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ptr == nil {
		return nil
	}
	C.tt_free(m.ptr)
	m.ptr = nil
	runtime.SetFinalizer(m, nil)
	return nil
}

// ---------------------------------------------------------------------------------------
// Prediction

const maxInt = math.MaxInt

// checkShape validates, in Go, what the C ABI cannot see: x has exactly nRows rows of
// NFeatures values, and out holds at least nRows*perRow values. C re-checks the rest.
func (m *Model) checkShape(nx, nRows, nOut, perRow int) *Error {
	nf := m.nFeatures
	if nRows < 0 {
		return newError(ErrShape, "nRows is %d, must not be negative", nRows)
	}
	if (nf > 0 && nRows > maxInt/nf) || nRows > maxInt/perRow {
		return newError(ErrShape, "nRows %d x %d features overflows", nRows, nf)
	}
	if nx != nRows*nf {
		return newError(ErrShape, "len(x) is %d, want nRows %d x NFeatures %d = %d", nx, nRows, nf, nRows*nf)
	}
	if nOut < nRows*perRow {
		return newError(ErrLength, "len(out) is %d, the call needs %d (%d rows x %d)", nOut, nRows*perRow, nRows, perRow)
	}
	return nil
}

func i8ptr(x []int8) *C.int8_t {
	if len(x) == 0 {
		return &C.ttgo_empty_i8[0]
	}
	return (*C.int8_t)(unsafe.Pointer(&x[0]))
}

func f64ptr(x []float64) *C.double {
	if len(x) == 0 {
		return &C.ttgo_empty_f64[0]
	}
	return (*C.double)(unsafe.Pointer(&x[0]))
}

func i32ptr(x []int32) *C.int32_t {
	if len(x) == 0 {
		return &C.ttgo_empty_i32[0]
	}
	return (*C.int32_t)(unsafe.Pointer(&x[0]))
}

func u8ptr(x []byte) *C.uint8_t {
	if len(x) == 0 {
		return &C.ttgo_empty_u8[0]
	}
	return (*C.uint8_t)(unsafe.Pointer(&x[0]))
}

// PredictInto writes the class label (0 or 1) of each of the nRows rows of x (int8 input:
// 0 absent, 1 present, -1 missing) to out[:nRows]. It does not allocate on success.
func (m *Model) PredictInto(x []int8, nRows int, out []int32) error {
	if err := m.checkShape(len(x), nRows, len(out), 1); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict(m.ptr, i8ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), i32ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// Predict returns the class labels of the nRows rows of x (int8 input).
func (m *Model) Predict(x []int8, nRows int) ([]int32, error) {
	if err := m.checkShape(len(x), nRows, nRows, 1); err != nil {
		return nil, err
	}
	out := make([]int32, nRows)
	if err := m.PredictInto(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PredictProbaInto writes the class probabilities of each row of x (int8 input) to
// out[:2*nRows], row-major: out[2r] = P(class 0), out[2r+1] = P(class 1). No allocation.
func (m *Model) PredictProbaInto(x []int8, nRows int, out []float64) error {
	if err := m.checkShape(len(x), nRows, len(out), C.TT_N_CLASSES); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict_proba(m.ptr, i8ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), f64ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// PredictProba returns 2*nRows class probabilities, row-major (int8 input).
func (m *Model) PredictProba(x []int8, nRows int) ([]float64, error) {
	if err := m.checkShape(len(x), nRows, C.TT_N_CLASSES*nRows, C.TT_N_CLASSES); err != nil {
		return nil, err
	}
	out := make([]float64, C.TT_N_CLASSES*nRows)
	if err := m.PredictProbaInto(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PredictF64Into is PredictInto for float64 input: 0 (or -0) absent, 1 present, NaN missing.
func (m *Model) PredictF64Into(x []float64, nRows int, out []int32) error {
	if err := m.checkShape(len(x), nRows, len(out), 1); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict_f64(m.ptr, f64ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), i32ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// PredictF64 returns the class labels of the nRows rows of x (float64 input).
func (m *Model) PredictF64(x []float64, nRows int) ([]int32, error) {
	if err := m.checkShape(len(x), nRows, nRows, 1); err != nil {
		return nil, err
	}
	out := make([]int32, nRows)
	if err := m.PredictF64Into(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PredictProbaF64Into is PredictProbaInto for float64 input (0, 1, NaN missing).
func (m *Model) PredictProbaF64Into(x []float64, nRows int, out []float64) error {
	if err := m.checkShape(len(x), nRows, len(out), C.TT_N_CLASSES); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return closedError()
	}
	var cerr C.tt_error
	rc := C.tt_predict_proba_f64(m.ptr, f64ptr(x), C.size_t(nRows), C.size_t(m.nFeatures), f64ptr(out), C.size_t(len(out)), &cerr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(out)
	runtime.KeepAlive(m)
	if rc != C.TT_OK {
		return fromC(rc, &cerr)
	}
	return nil
}

// PredictProbaF64 returns 2*nRows class probabilities, row-major (float64 input).
func (m *Model) PredictProbaF64(x []float64, nRows int) ([]float64, error) {
	if err := m.checkShape(len(x), nRows, C.TT_N_CLASSES*nRows, C.TT_N_CLASSES); err != nil {
		return nil, err
	}
	out := make([]float64, C.TT_N_CLASSES*nRows)
	if err := m.PredictProbaF64Into(x, nRows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ---------------------------------------------------------------------------------------
// Metadata

// NFeatures is the number of input columns per row.
func (m *Model) NFeatures() int { return m.nFeatures }

// NClasses is the number of classes (always 2: 0 = negative, 1 = positive).
func (m *Model) NClasses() int { return m.nClasses }

// NNodes is the number of nodes in the tree.
func (m *Model) NNodes() int { return m.nNodes }

// NLeaves is the number of leaves in the tree.
func (m *Model) NLeaves() int { return m.nLeaves }

// MaxDepth is the depth of the tree (edges from the root to the deepest leaf).
func (m *Model) MaxDepth() int { return m.maxDepth }

// FeatureNames returns the names of the input columns, in column order (a fresh copy).
func (m *Model) FeatureNames() []string { return append([]string(nil), m.featureNames...) }

// ClassLabels returns the labels of class 0 and class 1 (a fresh copy).
func (m *Model) ClassLabels() []string { return append([]string(nil), m.classLabels...) }

// Version is the user-supplied model version string (may be empty).
func (m *Model) Version() string { return m.version }

// MetadataJSON is the model's metadata, a JSON object.
func (m *Model) MetadataJSON() string { return m.metadataJSON }

// CRC32 is the CRC-32 stored in (and verified against) the model file.
func (m *Model) CRC32() uint32 { return m.crc32 }

// Digest is the SHA-256 of the model bytes without any signature trailer: its identity.
func (m *Model) Digest() [32]byte { return m.digest }

// DigestHex is Digest in lower-case hexadecimal.
func (m *Model) DigestHex() string { return hex.EncodeToString(m.digest[:]) }

// IsSigned reports whether the file carries a signature trailer. The signature was verified
// only if the model was loaded WithKey.
func (m *Model) IsSigned() bool { return m.signed }

// FeatureName returns the name of input column i, or ErrNotFound if i is out of range.
func (m *Model) FeatureName(i int) (string, error) {
	if i < 0 || i >= len(m.featureNames) {
		return "", newError(ErrNotFound, "feature index %d is out of range (n_features = %d)", i, len(m.featureNames))
	}
	return m.featureNames[i], nil
}

// FeatureIndex returns the input column of the feature called name (exact byte match), or
// ErrNotFound. It is a map lookup in Go (same answers as tt_feature_index, without a cgo call
// or an allocation), so it is cheap enough for per-request name resolution.
func (m *Model) FeatureIndex(name string) (int, error) {
	if i, ok := m.featureIndex[name]; ok {
		return i, nil
	}
	return -1, newError(ErrNotFound, "no feature named %q", name)
}
