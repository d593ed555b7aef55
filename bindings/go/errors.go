package thetatree

/*
#include "thetatree.h"
*/
import "C"

import (
	"fmt"
	"strconv"
)

// Code is a thetatree status code. The positive values are the library's stable TT_ERR_*
// codes from thetatree.h; the negative ones are produced by this Go binding only.
//
// Code implements error so that the exported Err* constants can be used as sentinels:
//
//	if errors.Is(err, thetatree.ErrChecksum) { ... }
//
// Every error returned by this package is an *Error; use errors.As to read its row,
// column, byte offset and message.
type Code int32

// Sentinel codes, one per TT_ERR_* status of the C library (same numeric values, checked at
// compile time against thetatree.h).
const (
	ErrNullArg       Code = 1  // a required pointer argument was NULL
	ErrLength        Code = 2  // an output buffer is too short, or a length is inconsistent
	ErrShape         Code = 3  // the input shape does not match the model
	ErrInputValue    Code = 4  // an input value is not 0, 1 or missing; Row and Column are set
	ErrIO            Code = 5  // the model file could not be opened, read or mapped
	ErrBadMagic      Code = 6  // the bytes are not a .ttm model
	ErrVersion       Code = 7  // unsupported format major version
	ErrEndian        Code = 8  // the endianness tag is wrong
	ErrTruncated     Code = 9  // the data is shorter than declared
	ErrTrailingBytes Code = 10 // the data is longer than declared
	ErrChecksum      Code = 11 // the CRC-32 does not match the bytes
	ErrBounds        Code = 12 // a section points outside the file
	ErrLayout        Code = 13 // sections overlap, leave gaps, or padding is not zero
	ErrLimit         Code = 14 // a count or size exceeds the documented caps
	ErrGraph         Code = 15 // the node graph is not a tree
	ErrCorrupt       Code = 16 // any other structural inconsistency
	ErrFlags         Code = 17 // unknown or contradictory load flags
	ErrPanic         Code = 18 // a bug inside the library was caught at the C boundary
	ErrNotFound      Code = 19 // no such feature name or index
	ErrAlignment     Code = 20 // an output pointer is misaligned
	ErrUnsigned      Code = 21 // verification requested, the file is not signed
	ErrKeyMismatch   Code = 22 // the file is signed with another key
	ErrBadSignature  Code = 23 // the file was modified after signing
	ErrNoKey         Code = 24 // verification requested without a key
)

// Compile-time proof that the values above are the header's: each element has type
// [0]struct{} only if the C macro minus the Go constant is 0 (a negative length or a
// non-zero one does not compile).
var _ = [...][0]struct{}{
	[C.TT_ERR_NULL_ARG - ErrNullArg]struct{}{},
	[C.TT_ERR_LENGTH - ErrLength]struct{}{},
	[C.TT_ERR_SHAPE - ErrShape]struct{}{},
	[C.TT_ERR_INPUT_VALUE - ErrInputValue]struct{}{},
	[C.TT_ERR_IO - ErrIO]struct{}{},
	[C.TT_ERR_BAD_MAGIC - ErrBadMagic]struct{}{},
	[C.TT_ERR_VERSION - ErrVersion]struct{}{},
	[C.TT_ERR_ENDIAN - ErrEndian]struct{}{},
	[C.TT_ERR_TRUNCATED - ErrTruncated]struct{}{},
	[C.TT_ERR_TRAILING_BYTES - ErrTrailingBytes]struct{}{},
	[C.TT_ERR_CHECKSUM - ErrChecksum]struct{}{},
	[C.TT_ERR_BOUNDS - ErrBounds]struct{}{},
	[C.TT_ERR_LAYOUT - ErrLayout]struct{}{},
	[C.TT_ERR_LIMIT - ErrLimit]struct{}{},
	[C.TT_ERR_GRAPH - ErrGraph]struct{}{},
	[C.TT_ERR_CORRUPT - ErrCorrupt]struct{}{},
	[C.TT_ERR_FLAGS - ErrFlags]struct{}{},
	[C.TT_ERR_PANIC - ErrPanic]struct{}{},
	[C.TT_ERR_NOT_FOUND - ErrNotFound]struct{}{},
	[C.TT_ERR_ALIGNMENT - ErrAlignment]struct{}{},
	[C.TT_ERR_UNSIGNED - ErrUnsigned]struct{}{},
	[C.TT_ERR_KEY_MISMATCH - ErrKeyMismatch]struct{}{},
	[C.TT_ERR_BAD_SIGNATURE - ErrBadSignature]struct{}{},
	[C.TT_ERR_NO_KEY - ErrNoKey]struct{}{},
}

// Codes produced by the Go binding itself (never by the C library).
const (
	// ErrClosed: the model was closed (Close) before or while the call was made.
	ErrClosed Code = -1
	// ErrABI: the linked libthetatree does not implement the ABI version of thetatree.h
	// (the header and the library were built from different sources; rebuild the library).
	ErrABI Code = -2
)

// String returns the code's macro name, e.g. "TT_ERR_CHECKSUM" (from the library itself),
// or "ErrClosed"/"ErrABI" for the binding's own codes.
func (c Code) String() string {
	switch c {
	case ErrClosed:
		return "ErrClosed"
	case ErrABI:
		return "ErrABI"
	}
	// tt_status_str returns a static string for every int32, "TT_ERR_UNKNOWN" if undefined.
	s := C.GoString(C.tt_status_str(C.int32_t(c)))
	if s == "TT_ERR_UNKNOWN" {
		return s + "(" + strconv.Itoa(int(c)) + ")"
	}
	return s
}

// Error makes a Code usable as a sentinel error value.
func (c Code) Error() string { return "thetatree: " + c.String() }

// Error is the error type returned by every fallible function of this package.
type Error struct {
	// Code is the status: compare with the Err* sentinels (errors.Is works on *Error).
	Code Code
	// Row is the 0-based input row of an ErrInputValue failure, else -1.
	Row int64
	// Column is the 0-based input column (feature index) of an ErrInputValue failure, else -1.
	Column int64
	// Offset is the byte offset in the model file of the offending field (0 if none).
	Offset uint64
	// Message is the library's (or the binding's) description of the failure.
	Message string
}

// Error formats as "thetatree: <CODE>: <message>", plus the byte offset when set. The
// library's messages already name the row and column of an ErrInputValue.
func (e *Error) Error() string {
	s := "thetatree: " + e.Code.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Offset != 0 {
		s += " (at byte offset " + strconv.FormatUint(e.Offset, 10) + ")"
	}
	return s
}

// Is reports whether target is the same status: a Code sentinel (ErrChecksum, ...) or
// another *Error with the same Code.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Code:
		return e.Code == t
	case *Error:
		return t != nil && e.Code == t.Code
	}
	return false
}

// newError builds a binding-side error (no row, column or offset).
func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Row: -1, Column: -1, Message: fmt.Sprintf(format, args...)}
}

func closedError() *Error {
	return newError(ErrClosed, "the model is closed")
}

// fromC converts a failed call's status and its tt_error (filled by the same call) to *Error.
func fromC(rc C.int32_t, e *C.tt_error) *Error {
	code := Code(rc)
	if Code(e.code) != code {
		// The library writes the same code into *err as it returns; if it ever did not,
		// trust the return value and keep no stale detail.
		return newError(code, "(the library returned no error detail)")
	}
	return &Error{
		Code:    code,
		Row:     int64(e.row),
		Column:  int64(e.column),
		Offset:  uint64(e.byte_offset),
		Message: cMessage(&e.message),
	}
}

// cMessage copies the NUL-terminated message out of a tt_error. It is plain Go (not
// C.GoString) so that e does not escape: the tt_error of a successful call stays on the stack.
func cMessage(msg *[C.TT_ERROR_MESSAGE_LEN]C.char) string {
	n := 0
	for n < len(msg) && msg[n] != 0 {
		n++
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(msg[i])
	}
	return string(b)
}
