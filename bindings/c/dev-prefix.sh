#!/usr/bin/env bash
# Make the cargo build usable like an installed thetatree, for development inside the checkout:
# lays out <target>/dev-prefix as `cmake --install` would (include/, lib/ with the SONAME link,
# lib/pkgconfig/thetatree{,-static}.pc from the same templates), with symlinks into
# <target>/release and include/, so it is current after every `cargo build --release`.
# Prints the pkg-config directory, for PKG_CONFIG_PATH:
#
#   cargo build --release
#   export PKG_CONFIG_PATH=$(bindings/c/dev-prefix.sh)
#   pkg-config --cflags --libs thetatree-static
#
# Used by the Go runners (bindings/go, service/) and the service's scripts and Dockerfile.
# Environment: CARGO_TARGET_DIR (default <repo>/target), TT_RUST_LIB_DIR (default
# <target>/release), TT_DEV_PREFIX (default <target>/dev-prefix).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
lib_dir=${TT_RUST_LIB_DIR:-$target/release}
prefix=${TT_DEV_PREFIX:-$target/dev-prefix}
header=$repo/include/thetatree.h

die() { echo "dev-prefix.sh: $*" >&2; exit 1; }
[ -f "$header" ] || die "$header not found"
[ -f "$lib_dir/libthetatree.a" ] || die "$lib_dir/libthetatree.a not found: run \`cargo build --release\` first"
lib_dir=$(cd "$lib_dir" && pwd)

macro() { # NAME -> the number of `#define TT_NAME <n>` in the header
  local v
  v=$(sed -n "s/^#define TT_$1 \([0-9][0-9]*\).*/\1/p" "$header")
  [ -n "$v" ] || die "no TT_$1 in $header"
  echo "$v"
}
abi=$(macro ABI_VERSION)
version=$(macro VERSION_MAJOR).$(macro VERSION_MINOR).$(macro VERSION_PATCH)
soname=libthetatree.so.$abi

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
prefix=$(cd "$prefix" && pwd) # absolute: cgo runs pkg-config from the package directory
ln -sfn "$header" "$prefix/include/thetatree.h"
if [ -f "$repo/bindings/cpp/include/thetatree.hpp" ]; then
  ln -sfn "$repo/bindings/cpp/include/thetatree.hpp" "$prefix/include/thetatree.hpp"
fi
ln -sfn "$lib_dir/libthetatree.a" "$prefix/lib/libthetatree.a"
if [ -f "$lib_dir/libthetatree.so" ]; then
  ln -sfn "$lib_dir/libthetatree.so" "$prefix/lib/$soname"
  ln -sfn "$soname" "$prefix/lib/libthetatree.so"
fi

# The .pc files: the templates bindings/c/CMakeLists.txt installs, with the values it would use
# for an install whose libdir is `lib`.
for pc in thetatree thetatree-static; do
  sed -e "s|@TT_PC_TO_PREFIX@|../..|g" -e "s|@CMAKE_INSTALL_LIBDIR@|lib|g" \
      -e "s|@CMAKE_INSTALL_INCLUDEDIR@|include|g" -e "s|@TT_VERSION@|$version|g" \
      -e "s|@TT_ABI_VERSION@|$abi|g" -e "s|@TT_SONAME@|$soname|g" \
      "$here/$pc.pc.in" >"$prefix/lib/pkgconfig/$pc.pc.tmp"
  if grep -n '@[A-Z_]*@' "$prefix/lib/pkgconfig/$pc.pc.tmp" >&2; then
    die "$pc.pc.in has a placeholder this script does not fill"
  fi
  mv "$prefix/lib/pkgconfig/$pc.pc.tmp" "$prefix/lib/pkgconfig/$pc.pc"
done
echo "$prefix/lib/pkgconfig"
