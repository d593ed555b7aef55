//go:build thetatree_shared

package thetatree

// Shared linking (-tags thetatree_shared): -lthetatree from the thetatree pkg-config module.
// The binary then records NEEDED libthetatree.so.<ABI> and needs the library at run time
// (an installed prefix on the loader's path, LD_LIBRARY_PATH, or an rpath added with
// CGO_LDFLAGS="-Wl,-rpath,<prefix>/lib").

/*
#cgo pkg-config: thetatree
*/
import "C"

// Linkage names how this build links the C library: "static" or "shared".
const Linkage = "shared"
