// Package modelfile opens model and key files without trusting what the path names: only
// regular files are opened (a FIFO, device or socket at the path would block or stream
// forever), the type is checked with lstat before opening and again on the open descriptor,
// the open is non-blocking, a symlink that resolves outside the allowed root is refused, and
// sizes are capped before anything is allocated.
package modelfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Reasons a file is refused (Error.Reason; also metric label values).
const (
	ReasonMissing       = "missing_file"
	ReasonNotRegular    = "not_regular_file"
	ReasonOutsideRoot   = "outside_model_dir"
	ReasonTooLarge      = "too_large"
	ReasonChanged       = "changed_while_opening"
	ReasonIO            = "io"
	ReasonNotADirectory = "not_a_directory"
)

// Error is a refused file: Reason is one of the Reason* constants.
type Error struct {
	Path   string
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refuse(path, reason string, format string, args ...any) *Error {
	return &Error{Path: path, Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Policy says where files may live.
type Policy struct {
	// Root, when set, is the directory that symlinks must not leave (the model directory).
	Root string
	// FollowExternal allows symlinks that resolve outside Root.
	FollowExternal bool
}

// Stat is what identifies one version of a file on disk.
type Stat struct {
	Size    int64
	ModTime time.Time
	Dev     uint64
	Ino     uint64
}

func statOf(fi fs.FileInfo) Stat {
	s := Stat{Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Dev, s.Ino = uint64(st.Dev), uint64(st.Ino)
	}
	return s
}

// Lstat is the identity of path itself (a symlink is not followed).
func Lstat(path string) (Stat, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Stat{}, err
	}
	return statOf(fi), nil
}

// Resolve lstats path and follows a symlink (checked against the policy). It returns the
// path to open and its stat; it never opens anything.
func (p Policy) Resolve(path string) (string, fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, refuse(path, ReasonMissing, "no such file")
		}
		return "", nil, &Error{Path: path, Reason: ReasonIO, Err: err}
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return path, fi, nil
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, refuse(path, ReasonMissing, "dangling symlink")
		}
		return "", nil, &Error{Path: path, Reason: ReasonIO, Err: err}
	}
	if err := p.checkInside(path, target); err != nil {
		return "", nil, err
	}
	fi, err = os.Lstat(target)
	if err != nil {
		return "", nil, &Error{Path: path, Reason: ReasonIO, Err: err}
	}
	return target, fi, nil
}

func (p Policy) checkInside(path, target string) error {
	if p.Root == "" || p.FollowExternal {
		return nil
	}
	root, err := filepath.EvalSymlinks(p.Root)
	if err != nil {
		return &Error{Path: path, Reason: ReasonIO, Err: err}
	}
	rel, err := filepath.Rel(root, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return refuse(path, ReasonOutsideRoot,
			"symlink to %s leaves the model directory (set FOLLOW_EXTERNAL_SYMLINKS to allow)", target)
	}
	return nil
}

// Open opens path for reading if it is a regular file of at most maxBytes bytes.
func (p Policy) Open(path string, maxBytes int64) (*os.File, Stat, error) {
	target, fi, err := p.Resolve(path)
	if err != nil {
		return nil, Stat{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, Stat{}, refuse(path, ReasonNotRegular, "not a regular file (%s)", typeName(fi.Mode()))
	}
	// O_NONBLOCK: should the path have been swapped for a FIFO since the lstat, the open
	// still returns at once, and the fstat below refuses it.
	fd, err := syscall.Open(target, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Stat{}, refuse(path, ReasonMissing, "no such file")
		}
		return nil, Stat{}, &Error{Path: path, Reason: ReasonIO, Err: err}
	}
	f := os.NewFile(uintptr(fd), target)
	ofi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Stat{}, &Error{Path: path, Reason: ReasonIO, Err: err}
	}
	if !ofi.Mode().IsRegular() {
		f.Close()
		return nil, Stat{}, refuse(path, ReasonNotRegular, "not a regular file (%s)", typeName(ofi.Mode()))
	}
	st := statOf(ofi)
	if before := statOf(fi); before.Dev != st.Dev || before.Ino != st.Ino {
		f.Close()
		return nil, Stat{}, refuse(path, ReasonChanged, "replaced while being opened")
	}
	if st.Size > maxBytes {
		f.Close()
		return nil, Stat{}, refuse(path, ReasonTooLarge, "%d bytes, over the limit of %d", st.Size, maxBytes)
	}
	return f, st, nil
}

// ReadAll reads an opened file of the size its stat says, and refuses a file that grows or
// shrinks meanwhile.
func ReadAll(f *os.File, st Stat) ([]byte, error) {
	b := make([]byte, st.Size)
	if n, err := io.ReadFull(f, b); err != nil {
		reason := ReasonIO
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			reason = ReasonChanged
		}
		return nil, &Error{Path: f.Name(), Reason: reason, Err: fmt.Errorf("read %d of %d bytes: %w", n, st.Size, err)}
	}
	var one [1]byte
	if n, _ := f.Read(one[:]); n != 0 {
		return nil, refuse(f.Name(), ReasonChanged, "grew while being read")
	}
	return b, nil
}

// ReadFile opens and reads a file under the policy.
func (p Policy) ReadFile(path string, maxBytes int64) ([]byte, Stat, error) {
	f, st, err := p.Open(path, maxBytes)
	if err != nil {
		return nil, Stat{}, err
	}
	defer f.Close()
	b, err := ReadAll(f, st)
	return b, st, err
}

// ReadKey reads an HMAC key file: a regular file of at most 64 KiB, trailing '\n'/'\r'
// removed (as the thetatree CLI does), not empty.
func ReadKey(path string) ([]byte, error) {
	b, _, err := Policy{}.ReadFile(path, 64<<10)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("key file %s is empty", path)
	}
	return b, nil
}

// Dir resolves a version directory entry: a directory, or a symlink to one that the policy
// allows.
func (p Policy) Dir(path string) (Stat, error) {
	_, fi, err := p.Resolve(path)
	if err != nil {
		return Stat{}, err
	}
	if !fi.IsDir() {
		return Stat{}, refuse(path, ReasonNotADirectory, "not a directory (%s)", typeName(fi.Mode()))
	}
	return statOf(fi), nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "an irregular file"
}
