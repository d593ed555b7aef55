package thetatree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const errModel = "mushroom_gini_d5_lgk12"

// Field offsets of the .ttm header, from the format specification in src/format.rs.
const (
	offFormatMajor = 8
	offEndianTag   = 12
	offCRC         = 32
	offNFeatures   = 36
	offNNodes      = 44
	offReserved    = 60
	offSections    = 64 // 7 x {u64 offset, u64 length}
	headerLen      = 176
	nodeSize       = 16 // tag, feature/leaf index, left, right: 4 x u32
)

// fixCRC recomputes the header CRC (bytes [0,32) and [36,len)) after a deliberate edit, so
// that the validator's structural checks, not the checksum, catch it.
func fixCRC(b []byte) {
	h := crc32.NewIEEE()
	h.Write(b[:offCRC])
	h.Write(b[offCRC+4:])
	binary.LittleEndian.PutUint32(b[offCRC:], h.Sum32())
}

func modelBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(modelPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadEverywhere loads b as a file (mapped and copied) and from memory; all three must fail
// the same way.
func loadEverywhere(t *testing.T, b []byte, want Code, wantOffset int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.ttm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		how  string
		load func() (*Model, error)
	}{
		{"Load", func() (*Model, error) { return Load(path) }},
		{"Load(WithCopy)", func() (*Model, error) { return Load(path, WithCopy()) }},
		{"LoadBytes", func() (*Model, error) { return LoadBytes(b) }},
	} {
		m, err := l.load()
		if m != nil {
			m.Close()
			t.Fatalf("%s: a broken model loaded", l.how)
		}
		e := asError(t, err, want)
		if wantOffset >= 0 && e.Offset != uint64(wantOffset) {
			t.Errorf("%s: %v: offset %d, want %d", l.how, err, e.Offset, wantOffset)
		}
		if !strings.Contains(err.Error(), want.String()) || !strings.Contains(err.Error(), e.Message) {
			t.Errorf("%s: Error() %q lacks the code name or message", l.how, err.Error())
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "does-not-exist.ttm"), dir, ""} {
		m, err := Load(path)
		if m != nil {
			t.Fatalf("Load(%q) returned a model", path)
		}
		asError(t, err, ErrIO)
	}
	_, err := Load(filepath.Join(dir, "a\x00b.ttm"))
	asError(t, err, ErrIO)
}

func TestLoadBrokenFiles(t *testing.T) {
	orig := modelBytes(t, errModel)
	dup := func() []byte { return bytes.Clone(orig) }
	nFeatures := binary.LittleEndian.Uint32(orig[offNFeatures:])
	garbage := make([]byte, len(orig))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}

	cases := []struct {
		name   string
		bytes  func() []byte
		want   Code
		offset int64 // -1: not checked
	}{
		{"empty", func() []byte { return nil }, ErrTruncated, -1},
		{"garbage", func() []byte { return garbage }, ErrBadMagic, -1},
		{"truncated header", func() []byte { return orig[:headerLen/2] }, ErrTruncated, -1},
		{"truncated body", func() []byte { return orig[:len(orig)-8] }, ErrTruncated, int64(len(orig) - 8)},
		{"trailing bytes", func() []byte { return append(dup(), 0, 0, 0) }, ErrTrailingBytes, int64(len(orig))},
		{"magic", func() []byte { b := dup(); b[0] ^= 0x01; return b }, ErrBadMagic, -1},
		{"format major", func() []byte { b := dup(); b[offFormatMajor]++; return b }, ErrVersion, offFormatMajor},
		{"endian tag", func() []byte { b := dup(); b[offEndianTag] ^= 0xff; return b }, ErrEndian, offEndianTag},
		{"flipped byte", func() []byte { b := dup(); b[len(b)-20] ^= 0x40; return b }, ErrChecksum, offCRC},
		{"reserved field (CRC fixed)", func() []byte {
			b := dup()
			b[offReserved] = 1
			fixCRC(b)
			return b
		}, ErrLayout, offReserved},
		{"node count over the cap (CRC fixed)", func() []byte {
			b := dup()
			binary.LittleEndian.PutUint32(b[offNNodes:], math.MaxUint32)
			fixCRC(b)
			return b
		}, ErrLimit, offNNodes},
		{"section outside the file (CRC fixed)", func() []byte {
			b := dup()
			binary.LittleEndian.PutUint64(b[offSections+16*3:], 1<<40)
			fixCRC(b)
			return b
		}, ErrBounds, offSections + 16*3},
		{"split on feature n_features (CRC fixed)", func() []byte {
			b := dup()
			binary.LittleEndian.PutUint32(b[headerLen+4:], nFeatures)
			fixCRC(b)
			return b
		}, ErrCorrupt, headerLen + 4},
		{"root is its own child (CRC fixed)", func() []byte {
			b := dup()
			binary.LittleEndian.PutUint32(b[headerLen+8:], 0)
			fixCRC(b)
			return b
		}, ErrGraph, headerLen + 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { loadEverywhere(t, c.bytes(), c.want, c.offset) })
	}

	// Any single flipped bit in the sections is caught by the checksum.
	t.Run("every section byte", func(t *testing.T) {
		for pos := headerLen; pos < len(orig); pos++ {
			b := dup()
			b[pos] ^= 1 << (pos % 8)
			m, err := LoadBytes(b)
			if m != nil {
				m.Close()
				t.Fatalf("byte %d flipped: the model loaded", pos)
			}
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("byte %d flipped: %v, want ErrChecksum", pos, err)
			}
		}
	})
}

// cli returns the thetatree command-line tool built by cargo build --release.
func cli(t *testing.T) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "target", "release", "thetatree")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the thetatree CLI is needed to sign a model: %v (run cargo build --release)", err)
	}
	return p
}

func TestSignedModels(t *testing.T) {
	dir := t.TempDir()
	unsigned := modelPath(t, errModel)
	key := []byte("go binding test key \x00\x01\x02")
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "signed.ttm")
	if out, err := exec.Command(cli(t), "sign", "--key-file", keyFile, unsigned, "-o", signed).CombinedOutput(); err != nil {
		t.Fatalf("thetatree sign: %v\n%s", err, out)
	}
	signedBytes, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	plain := loadModel(t, errModel)

	for _, l := range []struct {
		how  string
		load func(opts ...Option) (*Model, error)
	}{
		{"Load", func(opts ...Option) (*Model, error) { return Load(signed, opts...) }},
		{"Load+copy", func(opts ...Option) (*Model, error) { return Load(signed, append(opts, WithCopy())...) }},
		{"LoadBytes", func(opts ...Option) (*Model, error) { return LoadBytes(signedBytes, opts...) }},
	} {
		t.Run(l.how, func(t *testing.T) {
			for _, opts := range [][]Option{nil, {WithKey(key)}} {
				m, err := l.load(opts...)
				if err != nil {
					t.Fatal(err)
				}
				if !m.IsSigned() {
					t.Error("IsSigned is false for a signed model")
				}
				if m.Digest() != plain.Digest() || m.DigestHex() != plain.DigestHex() {
					t.Error("the signature trailer changed the digest")
				}
				data := readDataset(t, refModelByName(t, errModel).dataset, true)
				got, err := m.Predict(data.i8, data.nRows)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := plain.Predict(data.i8, data.nRows)
				if !slicesEqual(got, want) {
					t.Error("signed and unsigned models predict differently")
				}
				m.Close()
			}
			wrong := append(bytes.Clone(key), 'x')
			_, err := l.load(WithKey(wrong))
			asError(t, err, ErrKeyMismatch)
			_, err = l.load(WithKey(nil))
			asError(t, err, ErrNoKey)
		})
	}

	// The key must be copied by WithKey: changing the caller's slice afterwards is harmless.
	k := bytes.Clone(key)
	opt := WithKey(k)
	k[0] ^= 0xff
	m, err := Load(signed, opt)
	if err != nil {
		t.Fatalf("WithKey did not copy the key: %v", err)
	}
	m.Close()

	_, err = Load(unsigned, WithKey(key))
	asError(t, err, ErrUnsigned)

	// A model byte modified after signing (CRC fixed, so only the signature can tell).
	tampered := bytes.Clone(signedBytes)
	modelLen := binary.LittleEndian.Uint64(tampered[24:32]) // header file_len
	if modelLen >= uint64(len(tampered)) {
		t.Fatalf("the signed file has no trailer (model %d bytes, file %d)", modelLen, len(tampered))
	}
	body := tampered[:modelLen]
	// Change the model version string to another of the same length (still valid UTF-8).
	i := bytes.Index(body, []byte(errModel+"\x00"))
	if i < 0 {
		t.Fatal("model version string not found in the file")
	}
	body[i] ^= 0x01
	fixCRC(body)
	path := filepath.Join(dir, "tampered.ttm")
	if err := os.WriteFile(path, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, WithKey(key))
	asError(t, err, ErrBadSignature)
	_, err = LoadBytes(tampered, WithKey(key))
	asError(t, err, ErrBadSignature)
	// Without a key the (valid, re-checksummed) model still loads: signatures are opt-in.
	m, err = LoadBytes(tampered)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestShapeErrors: every predict call rejects bad shapes and short outputs, writes nothing
// on such errors, and accepts zero rows.
func TestShapeErrors(t *testing.T) {
	m := loadModel(t, errModel)
	nf := m.NFeatures()
	type call struct {
		name    string
		perRow  int
		into    func(nx, nRows, nOut int) (error, bool) // error, output untouched
		alloc   func(nx, nRows int) (int, error)        // output length
		element string
	}
	calls := []call{
		{"Predict", 1, func(nx, nRows, nOut int) (error, bool) {
			out := fill(make([]int32, nOut), 7)
			err := m.PredictInto(make([]int8, nx), nRows, out)
			return err, allEqual(out, 7)
		}, func(nx, nRows int) (int, error) {
			out, err := m.Predict(make([]int8, nx), nRows)
			return len(out), err
		}, "int8"},
		{"PredictProba", 2, func(nx, nRows, nOut int) (error, bool) {
			out := fill(make([]float64, nOut), 7)
			err := m.PredictProbaInto(make([]int8, nx), nRows, out)
			return err, allEqual(out, 7)
		}, func(nx, nRows int) (int, error) {
			out, err := m.PredictProba(make([]int8, nx), nRows)
			return len(out), err
		}, "int8"},
		{"PredictF64", 1, func(nx, nRows, nOut int) (error, bool) {
			out := fill(make([]int32, nOut), 7)
			err := m.PredictF64Into(make([]float64, nx), nRows, out)
			return err, allEqual(out, 7)
		}, func(nx, nRows int) (int, error) {
			out, err := m.PredictF64(make([]float64, nx), nRows)
			return len(out), err
		}, "float64"},
		{"PredictProbaF64", 2, func(nx, nRows, nOut int) (error, bool) {
			out := fill(make([]float64, nOut), 7)
			err := m.PredictProbaF64Into(make([]float64, nx), nRows, out)
			return err, allEqual(out, 7)
		}, func(nx, nRows int) (int, error) {
			out, err := m.PredictProbaF64(make([]float64, nx), nRows)
			return len(out), err
		}, "float64"},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			bad := []struct {
				what            string
				nx, nRows, nOut int
				want            Code
			}{
				{"negative rows", 0, -1, 0, ErrShape},
				{"x one value short", 3*nf - 1, 3, 3 * c.perRow, ErrShape},
				{"x one value long", 3*nf + 1, 3, 3 * c.perRow, ErrShape},
				{"x of another width", 3 * (nf + 1), 3, 3 * c.perRow, ErrShape},
				{"rows overflow", 0, math.MaxInt, 0, ErrShape},
				{"rows overflow by features", nf, math.MaxInt/nf + 1, 0, ErrShape},
				{"out one short", 3 * nf, 3, 3*c.perRow - 1, ErrLength},
				{"out empty", 3 * nf, 3, 0, ErrLength},
			}
			for _, b := range bad {
				err, untouched := c.into(b.nx, b.nRows, b.nOut)
				asError(t, err, b.want)
				if !untouched {
					t.Errorf("%s: output written on a shape error", b.what)
				}
				if b.want == ErrShape {
					n, err := c.alloc(b.nx, b.nRows)
					asError(t, err, b.want)
					if n != 0 {
						t.Errorf("%s: allocating call returned output with its error", b.what)
					}
				}
			}
			// Zero rows: empty (even nil) slices are fine and nothing is written.
			if err, untouched := c.into(0, 0, 0); err != nil || !untouched {
				t.Errorf("zero rows: %v", err)
			}
			if err, untouched := c.into(0, 0, 4); err != nil || !untouched {
				t.Errorf("zero rows, spare output: %v", err)
			}
			if n, err := c.alloc(0, 0); err != nil || n != 0 {
				t.Errorf("zero rows: %d outputs, %v", n, err)
			}
			// A longer output buffer is fine: only the first rows*perRow values are written.
			if err, untouched := c.into(2*nf, 2, 2*c.perRow+3); err != nil || untouched {
				t.Errorf("spare output: %v (untouched %v)", err, untouched)
			}
		})
	}

	// nil slices take the same path as empty ones.
	if err := m.PredictInto(nil, 0, nil); err != nil {
		t.Error(err)
	}
	if err := m.PredictProbaF64Into(nil, 0, nil); err != nil {
		t.Error(err)
	}
}

func fill[T any](s []T, v T) []T {
	for i := range s {
		s[i] = v
	}
	return s
}

func allEqual[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x != v {
			return false
		}
	}
	return true
}

// TestInputValueErrors: on every reference model, an invalid value in the column the root
// splits on fails with ErrInputValue naming the row (position in the batch) and column.
func TestInputValueErrors(t *testing.T) {
	for _, rm := range referenceModels(t) {
		t.Run(rm.name, func(t *testing.T) {
			root, _ := referenceTree(t, rm)
			if root.Type != "split" || root.FeatureIdx == nil {
				t.Skip("the root is a leaf: no value is ever read")
			}
			col := *root.FeatureIdx
			m := loadModel(t, rm.name)
			data := readDataset(t, rm.dataset, false)
			nRows := min(data.nRows, 6)
			for _, badRow := range []int{0, nRows - 1, nRows / 2} {
				for _, v := range []int8{2, -2, math.MaxInt8, math.MinInt8} {
					x := bytes.Clone(int8Bytes(data.rowsI8(0, nRows)))
					x[badRow*data.nCols+col] = byte(v)
					xi := bytesInt8(x)
					_, err := m.Predict(xi, nRows)
					checkValueError(t, err, badRow, col)
					_, err = m.PredictProba(xi, nRows)
					checkValueError(t, err, badRow, col)
				}
				for _, v := range []float64{2, -1, 0.5, math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64} {
					x := append([]float64(nil), data.rowsF64(0, nRows)...)
					x[badRow*data.nCols+col] = v
					_, err := m.PredictF64(x, nRows)
					checkValueError(t, err, badRow, col)
					_, err = m.PredictProbaF64(x, nRows)
					checkValueError(t, err, badRow, col)
				}
			}
		})
	}
}

func int8Bytes(x []int8) []byte {
	b := make([]byte, len(x))
	for i, v := range x {
		b[i] = byte(v)
	}
	return b
}

func bytesInt8(b []byte) []int8 {
	x := make([]int8, len(b))
	for i, v := range b {
		x[i] = int8(v)
	}
	return x
}

func checkValueError(t *testing.T, err error, row, col int) {
	t.Helper()
	e := asError(t, err, ErrInputValue)
	if e.Row != int64(row) || e.Column != int64(col) {
		t.Fatalf("%v: row %d column %d, want row %d column %d", err, e.Row, e.Column, row, col)
	}
}

func TestClosedModel(t *testing.T) {
	m := loadModel(t, errModel)
	nf := m.NFeatures()
	names := m.FeatureNames()
	digest := m.Digest()
	for i := 0; i < 3; i++ {
		if err := m.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	x8 := make([]int8, nf)
	x64 := make([]float64, nf)
	out := make([]int32, 1)
	proba := make([]float64, 2)
	errs := map[string]error{
		"PredictInto":         m.PredictInto(x8, 1, out),
		"PredictProbaInto":    m.PredictProbaInto(x8, 1, proba),
		"PredictF64Into":      m.PredictF64Into(x64, 1, out),
		"PredictProbaF64Into": m.PredictProbaF64Into(x64, 1, proba),
		"zero rows":           m.PredictInto(nil, 0, nil),
	}
	_, errs["Predict"] = m.Predict(x8, 1)
	_, errs["PredictProba"] = m.PredictProba(x8, 1)
	_, errs["PredictF64"] = m.PredictF64(x64, 1)
	_, errs["PredictProbaF64"] = m.PredictProbaF64(x64, 1)
	for name, err := range errs {
		t.Run(name, func(t *testing.T) { asError(t, err, ErrClosed) })
	}
	// Metadata was copied at load and stays readable.
	if m.NFeatures() != nf || m.Digest() != digest || !slicesEqual(m.FeatureNames(), names) {
		t.Error("cached metadata changed after Close")
	}
	if got, err := m.FeatureName(nf - 1); err != nil || got != names[nf-1] {
		t.Errorf("FeatureName after Close: %q, %v", got, err)
	}
	if got, err := m.FeatureIndex(names[1]); err != nil || got != 1 {
		t.Errorf("FeatureIndex after Close: %d, %v", got, err)
	}
}

// TestFeatureLookups: FeatureName/FeatureIndex (answered in Go) agree with the library's
// tt_feature_name/tt_feature_index on every name of every model, and on names it lacks.
func TestFeatureLookups(t *testing.T) {
	for _, rm := range referenceModels(t) {
		m := loadModel(t, rm.name)
		names := m.FeatureNames()
		probes := append([]string{"", names[0] + "#", strings.ToUpper(names[0]), names[0] + "\x00",
			"\x00" + names[0], " " + names[0]}, names...)
		for _, name := range probes {
			idx, err := m.FeatureIndex(name)
			rc, cidx := directFeatureIndex(m, name)
			if strings.IndexByte(name, 0) >= 0 {
				rc = int32(ErrNotFound) // C sees only the prefix before the NUL
			}
			if rc != 0 {
				asError(t, err, Code(rc))
				if idx != -1 {
					t.Errorf("%s: FeatureIndex(%q) = %d with an error", rm.name, name, idx)
				}
			} else if err != nil || idx != cidx {
				t.Errorf("%s: FeatureIndex(%q) = %d, %v; library says %d", rm.name, name, idx, err, cidx)
			}
		}
		for _, i := range []int{-1, 0, len(names) / 2, len(names) - 1, len(names), math.MaxInt} {
			name, err := m.FeatureName(i)
			if i < 0 || i >= len(names) {
				asError(t, err, ErrNotFound)
				continue
			}
			rc, cname := directFeatureName(m, i)
			if err != nil || rc != 0 || name != cname {
				t.Errorf("%s: FeatureName(%d) = %q, %v; library %d %q", rm.name, i, name, err, rc, cname)
			}
		}
		if rc, _ := directFeatureName(m, len(names)); Code(rc) != ErrNotFound {
			t.Errorf("%s: tt_feature_name(n_features) = %d", rm.name, rc)
		}
	}
}

func TestErrorValues(t *testing.T) {
	// Each sentinel names its own TT_ERR_* macro (as reported by tt_status_str).
	sentinels := map[Code]string{
		ErrNullArg: "NULL_ARG", ErrLength: "LENGTH", ErrShape: "SHAPE", ErrInputValue: "INPUT_VALUE",
		ErrIO: "IO", ErrBadMagic: "BAD_MAGIC", ErrVersion: "VERSION", ErrEndian: "ENDIAN",
		ErrTruncated: "TRUNCATED", ErrTrailingBytes: "TRAILING_BYTES", ErrChecksum: "CHECKSUM",
		ErrBounds: "BOUNDS", ErrLayout: "LAYOUT", ErrLimit: "LIMIT", ErrGraph: "GRAPH",
		ErrCorrupt: "CORRUPT", ErrFlags: "FLAGS", ErrPanic: "PANIC", ErrNotFound: "NOT_FOUND",
		ErrAlignment: "ALIGNMENT", ErrUnsigned: "UNSIGNED", ErrKeyMismatch: "KEY_MISMATCH",
		ErrBadSignature: "BAD_SIGNATURE", ErrNoKey: "NO_KEY",
	}
	for code, name := range sentinels {
		if code.String() != "TT_ERR_"+name {
			t.Errorf("code %d: String %q, want TT_ERR_%s", int32(code), code.String(), name)
		}
		if code.Error() != "thetatree: TT_ERR_"+name {
			t.Errorf("code %d: Error %q", int32(code), code.Error())
		}
	}
	if ErrClosed.String() != "ErrClosed" || ErrABI.String() != "ErrABI" {
		t.Error("binding-only code names")
	}
	if s := Code(12345).String(); !strings.HasPrefix(s, "TT_ERR_UNKNOWN") {
		t.Errorf("unknown code: %q", s)
	}

	_, err := LoadBytes([]byte("definitely not a model, but long enough to hold a header......" +
		strings.Repeat(".", headerLen)))
	e := asError(t, err, ErrBadMagic)
	if !errors.Is(err, &Error{Code: ErrBadMagic}) {
		t.Error("errors.Is with an *Error target of the same code")
	}
	for _, other := range []error{ErrChecksum, &Error{Code: ErrChecksum}, ErrClosed, errors.New("x"), (*Error)(nil)} {
		if errors.Is(err, other) {
			t.Errorf("errors.Is(%v, %v) is true", err, other)
		}
	}
	if e.Row != -1 || e.Column != -1 {
		t.Errorf("row/column %d/%d on a load error, want -1/-1", e.Row, e.Column)
	}
	if !regexp.MustCompile(`^thetatree: TT_ERR_BAD_MAGIC: .+`).MatchString(err.Error()) {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestABIVersion(t *testing.T) {
	if HeaderABIVersion != LibraryABIVersion() {
		t.Fatalf("header ABI %d, library ABI %d", HeaderABIVersion, LibraryABIVersion())
	}
	if err := checkABI(); err != nil {
		t.Fatal(err)
	}
	e := asError(t, abiMismatch(HeaderABIVersion, HeaderABIVersion+1), ErrABI)
	if !strings.Contains(e.Message, "ABI") {
		t.Errorf("message %q", e.Message)
	}
	// The library's version is the crate's (Cargo.toml [package] version).
	cargo, err := os.ReadFile(filepath.Join(repoRoot(t), "Cargo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	v := regexp.MustCompile(`(?m)^version\s*=\s*"([^"]+)"`).FindSubmatch(cargo)
	if v == nil || LibraryVersion() != string(v[1]) {
		t.Errorf("LibraryVersion %q, Cargo.toml %q", LibraryVersion(), v)
	}
}

// TestWithCopySurvivesRewrite: a model loaded WithCopy does not see the file rewritten in
// place (which a memory-mapped model must never be exposed to).
func TestWithCopySurvivesRewrite(t *testing.T) {
	rm := refModelByName(t, errModel)
	path := filepath.Join(t.TempDir(), "m.ttm")
	if err := os.WriteFile(path, modelBytes(t, errModel), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, WithCopy())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte{0xa5}, 1<<12)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data := readDataset(t, rm.dataset, true)
	golden := readGolden(t, errModel, true)
	labels, err := m.PredictF64(data.f64, data.nRows)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range golden {
		if labels[i] != g.pred {
			t.Fatalf("row %d: %d, golden %d", g.row, labels[i], g.pred)
		}
	}
}
