package thetatree

/*
#include <stdlib.h>
#include "thetatree.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Direct, unguarded calls into the C library, for the tests and for the benchmark that
// measures what the binding adds over a bare cgo call (no lock, no closed check, no shape
// checks, no error conversion). cgo is not available in _test.go files, hence this file.
// Callers must pass non-empty, correctly sized slices and keep m open.

func directPredict(m *Model, x []int8, nRows int, out []int32) int32 {
	var cerr C.tt_error
	return int32(C.tt_predict(m.ptr, (*C.int8_t)(unsafe.Pointer(&x[0])), C.size_t(nRows),
		C.size_t(m.nFeatures), (*C.int32_t)(unsafe.Pointer(&out[0])), C.size_t(len(out)), &cerr))
}

func directPredictProba(m *Model, x []int8, nRows int, out []float64) int32 {
	var cerr C.tt_error
	return int32(C.tt_predict_proba(m.ptr, (*C.int8_t)(unsafe.Pointer(&x[0])), C.size_t(nRows),
		C.size_t(m.nFeatures), (*C.double)(unsafe.Pointer(&out[0])), C.size_t(len(out)), &cerr))
}

func directPredictProbaF64(m *Model, x []float64, nRows int, out []float64) int32 {
	var cerr C.tt_error
	return int32(C.tt_predict_proba_f64(m.ptr, (*C.double)(unsafe.Pointer(&x[0])), C.size_t(nRows),
		C.size_t(m.nFeatures), (*C.double)(unsafe.Pointer(&out[0])), C.size_t(len(out)), &cerr))
}

// directFeatureIndex is tt_feature_index (status code, index).
func directFeatureIndex(m *Model, name string) (int32, int) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var (
		cerr C.tt_error
		idx  C.size_t
	)
	rc := C.tt_feature_index(m.ptr, cname, &idx, &cerr)
	runtime.KeepAlive(m)
	return int32(rc), int(idx)
}

// directFeatureName is tt_feature_name (status code, name).
func directFeatureName(m *Model, i int) (int32, string) {
	var (
		cerr C.tt_error
		s    *C.char
	)
	rc := C.tt_feature_name(m.ptr, C.size_t(i), &s, &cerr)
	if rc != C.TT_OK {
		return int32(rc), ""
	}
	return int32(rc), C.GoString(s)
}
