//go:build !thetatree_shared

package thetatree

// Static linking (the default): libthetatree.a and the system libraries it needs, from the
// thetatree-static pkg-config module that `cmake --install` puts in <prefix>/lib/pkgconfig.
// The resulting binary has no run-time dependency on libthetatree.

/*
#cgo pkg-config: thetatree-static
*/
import "C"

// Linkage names how this build links the C library: "static" or "shared".
const Linkage = "static"
