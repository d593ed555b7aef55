#!/usr/bin/env bash
# Build libthetatree_jni.so: the JNI shim (thetatree_jni.c) linked against the *static*
# libthetatree.a into one self-contained shared object. Run by Maven (exec-maven-plugin, phase
# process-classes, after javac has generated the JNI header) as:
#
#   build.sh CLASSES_DIR JNI_HEADER_DIR
#
# The .so goes to CLASSES_DIR/io/thetatree/native/<os>-<arch>/libthetatree_jni.so, so that it is
# on the test class path and inside the jar.
#
# Environment:
#   JAVA_HOME       JDK whose include/ has jni.h (Maven passes ${java.home})
#   TT_SKIP_CARGO=1 never run cargo; use target/release/libthetatree.a as it is
#   CC              C compiler (default gcc)
set -euo pipefail

classes=${1:?usage: build.sh CLASSES_DIR JNI_HEADER_DIR}
jni_headers=${2:?usage: build.sh CLASSES_DIR JNI_HEADER_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../../../.." && pwd)
cc=${CC:-gcc}

case "$(uname -s)" in
  Linux) os=linux ;;
  *) echo "build.sh: unsupported OS $(uname -s) (only Linux is built)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) echo "build.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
out_dir=$classes/io/thetatree/native/$os-$arch
out=$out_dir/libthetatree_jni.so

java_home=${JAVA_HOME:-}
if [ -z "$java_home" ] || [ ! -f "$java_home/include/jni.h" ]; then
  javac_path=$(command -v javac || true)
  [ -n "$javac_path" ] && java_home=$(dirname "$(dirname "$(readlink -f "$javac_path")")")
fi
[ -f "$java_home/include/jni.h" ] || { echo "build.sh: jni.h not found (set JAVA_HOME to a JDK)" >&2; exit 1; }

# 1. The Rust static library: (re)build when missing or older than its sources.
lib=$repo/target/release/libthetatree.a
if [ "${TT_SKIP_CARGO:-0}" != 1 ]; then
  stale=
  if [ ! -f "$lib" ]; then
    stale="missing"
  else
    newer=$(cd "$repo" && find src Cargo.toml Cargo.lock include -newer "$lib" -type f -print -quit 2>/dev/null || true)
    [ -n "$newer" ] && stale="older than $newer"
  fi
  if [ -n "$stale" ]; then
    echo "build.sh: libthetatree.a $stale: cargo build --release" >&2
    (cd "$repo" && cargo build --release --quiet)
  fi
fi
[ -f "$lib" ] || { echo "build.sh: $lib not found (run cargo build --release in $repo)" >&2; exit 1; }

# 2. The shim, skipped when up to date.
src=$here/thetatree_jni.c
hdr=$repo/include/thetatree.h
gen=$jni_headers/io_thetatree_Native.h
[ -f "$gen" ] || { echo "build.sh: $gen not found (javac -h runs first)" >&2; exit 1; }
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$hdr" ] && [ "$out" -nt "$lib" ] \
   && [ "$out" -nt "$gen" ] && [ "$out" -nt "${BASH_SOURCE[0]}" ]; then
  exit 0
fi
mkdir -p "$out_dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Export only the JNI entry points: the Rust runtime and tt_* stay private to this object.
cat > "$tmp/exports.map" <<'EOF'
{
  global: Java_io_thetatree_*; JNI_OnLoad; JNI_OnUnload;
  local: *;
};
EOF
"$cc" -std=c11 -O2 -fPIC -shared -fvisibility=hidden \
  -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion \
  -I"$repo/include" -I"$jni_headers" -I"$java_home/include" -I"$java_home/include/$os" \
  "$src" "$lib" \
  -Wl,--version-script="$tmp/exports.map" -Wl,--gc-sections -Wl,-z,defs -Wl,-z,noexecstack \
  -Wl,--strip-debug -lm -ldl -lpthread \
  -o "$tmp/libthetatree_jni.so"
mv -f "$tmp/libthetatree_jni.so" "$out"
echo "build.sh: built $out ($(stat -c %s "$out") bytes)" >&2
