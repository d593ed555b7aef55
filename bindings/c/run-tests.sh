#!/usr/bin/env bash
# Build and test the C and C++ bindings end to end:
#   1. cargo build --release (the Rust library and the `thetatree` CLI)
#   2. compile the reference models (.ci/compile-reference-models) if missing or stale
#   3. configure + build + ctest: normal, ASan+UBSan(+LSan), TSan (C tests only)
#   4. install to a temporary prefix and build consumers with find_package(thetatree) and
#      with pkg-config (shared and static), then run them
# Exits non-zero on any failure.
#
# Environment: JOBS (default 2), TT_REFERENCE_DIR (default <repo>/tests/data/reference),
# TT_MODELS_DIR (default <repo>/target/reference-models), TT_SKIP_ASAN=1, TT_SKIP_TSAN=1,
# TT_BUILD_ROOT (where build dirs go, default bindings/c).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
jobs=${JOBS:-2}
build_root=${TT_BUILD_ROOT:-$here}
models=${TT_MODELS_DIR:-$repo/target/reference-models}
# shellcheck source=../../tests/data/reference.sh
. "$repo/tests/data/reference.sh"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'run-tests.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# ---- prerequisites ---------------------------------------------------------------------------
missing=()
for tool in cargo cmake gcc g++ pkg-config readelf; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
gtest_found=0
for d in /usr/include /usr/local/include; do [ -f "$d/gtest/gtest.h" ] && gtest_found=1; done
[ "$gtest_found" = 1 ] || missing+=("gtest headers")
zlib_found=0
for d in /usr/include /usr/local/include; do [ -f "$d/zlib.h" ] && zlib_found=1; done
[ "$zlib_found" = 1 ] || missing+=("zlib headers")
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-tests.sh: missing prerequisites: ${missing[*]}" >&2
  echo "  on Debian: apt-get install -y cmake ninja-build gcc g++ pkg-config binutils libgtest-dev zlib1g-dev" >&2
  echo "  (pkg-config is needed for the pkg-config consumer test; cargo from rustup)" >&2
  exit 1
fi
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); else
  echo "note: ninja not found, using the default CMake generator"; generator=()
fi
TT_REFERENCE_DIR=$(tt_reference_dir) || die "no reference data"
export TT_REFERENCE_DIR

# ---- 1. the Rust library ------------------------------------------------------------------------
step "cargo build --release"
(cd "$repo" && cargo build --release)
lib_dir=${CARGO_TARGET_DIR:-$repo/target}/release
for f in libthetatree.so libthetatree.a thetatree; do
  [ -e "$lib_dir/$f" ] || die "$lib_dir/$f was not built"
done

# ---- 2. reference models ------------------------------------------------------------------------
n_manifest=$(grep -cvE '^(#|[[:space:]]*$)' "$repo/tests/reference_models.tsv")
stale=0
if [ ! -d "$models" ]; then
  stale=1
else
  n_models=$(find "$models" -maxdepth 1 -name '*.ttm' | wc -l)
  [ "$n_models" -ge "$n_manifest" ] || stale=1
  # Models older than the compiler that would produce them may use an outdated format.
  [ -z "$(find "$models" -maxdepth 1 -name '*.ttm' ! -newer "$lib_dir/thetatree" -print -quit)" ] || stale=1
fi
if [ "$stale" = 1 ]; then
  step "compiling reference models into $models"
  "$repo/.ci/compile-reference-models" "$models"
else
  echo "reference models: $models (up to date)"
fi

# ---- 3. configure, build, test ----------------------------------------------------------------
summaries=()
run_config() { # name builddir cmake-args...
  local name=$1 dir=$2
  shift 2
  step "[$name] configure + build ($dir)"
  cmake -S "$here" -B "$dir" "${generator[@]}" -DTT_CARGO_BUILD=OFF -DTT_MODELS_DIR="$models" \
    -DTT_RUST_LIB_DIR="$lib_dir" "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; die "[$name] configure"; }
  cmake --build "$dir" -j "$jobs" || die "[$name] build"
  step "[$name] ctest"
  local log="$dir/ctest-summary.log" rc=0
  ctest --test-dir "$dir" --output-on-failure --timeout 300 2>&1 | tee "$log" || rc=$?
  # The tests' own summary lines (parity/api_errors/threads/gtest), from CTest's full log.
  grep -hE '^(parity|parity_wide|api_errors|threads|read_data)[: ]|^\[  PASSED  \]|^\[  FAILED  \]|labels match' \
    "$dir/Testing/Temporary/LastTest.log" | sed "s/^/  [$name] /" || true
  summaries+=("[$name] $(grep -E 'tests passed|tests failed' "$log" | tail -1)")
  summaries+=("[$name] $(grep -E 'Total Test time' "$log" | tail -1)")
  [ "$rc" = 0 ] || die "[$name] ctest"
}

mkdir -p "$build_root"
run_config normal "$build_root/build"
if [ "${TT_SKIP_ASAN:-0}" != 1 ]; then
  run_config asan+ubsan "$build_root/build-asan" -DTT_SANITIZE=address,undefined
fi
if [ "${TT_SKIP_TSAN:-0}" != 1 ]; then
  # C tests only: threads.c is the point; the C++ suite adds no concurrency.
  run_config tsan "$build_root/build-tsan" -DTT_SANITIZE=thread -DTT_BUILD_CPP=OFF
fi

# ---- 4. install + consumers ---------------------------------------------------------------------
step "install + find_package / pkg-config consumers"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
cmake --install "$build_root/build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; die "install"; }
sed 's/^/  /' "$tmp/install.log"
version=$(sed -n 's/^#define TT_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$repo/include/thetatree.h" | paste -sd.)
pcdir=$(dirname "$(find "$prefix" -name thetatree.pc -print -quit)")
libdir=$(dirname "$(find "$prefix" -name libthetatree.so -print -quit)")
for f in include/thetatree.h include/thetatree.hpp; do [ -f "$prefix/$f" ] || die "not installed: $f"; done
for f in libthetatree.so libthetatree.a; do [ -f "$libdir/$f" ] || die "not installed: $f"; done
[ -f "$pcdir/thetatree-static.pc" ] || die "not installed: thetatree-static.pc"
[ -n "$(find "$prefix" -name thetatreeConfig.cmake)" ] || die "not installed: thetatreeConfig.cmake"
[ -n "$(find "$prefix" -name thetatreeConfigVersion.cmake)" ] || die "not installed: thetatreeConfigVersion.cmake"
cmp -s "$prefix/include/thetatree.h" "$repo/include/thetatree.h" || die "installed header differs"
# The consumers must resolve libthetatree.so to $prefix, not to the build tree: checked below.
model="$models/$(awk -F'\t' '!/^#/ && NF {print $1; exit}' "$repo/tests/reference_models.tsv").ttm"

cmake -S "$here/consumer" -B "$tmp/consumer" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DTT_EXPECT_VERSION="$version" >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log"; die "find_package consumer: configure"; }
grep 'found thetatree' "$tmp/consumer.log" | sed 's/^/  /'
cmake --build "$tmp/consumer" -j "$jobs" >"$tmp/consumer-build.log" 2>&1 || { cat "$tmp/consumer-build.log"; die "find_package consumer: build"; }

export PKG_CONFIG_PATH="$pcdir"
[ "$(pkg-config --modversion thetatree)" = "$version" ] || die "pkg-config version"
# shellcheck disable=SC2046
gcc -Wall -Wextra -Werror -o "$tmp/pc_shared" "$here/consumer/consumer.c" \
  $(pkg-config --cflags --libs thetatree) -Wl,-rpath,"$(pkg-config --variable=libdir thetatree)" ||
  die "pkg-config consumer (shared): build"
# shellcheck disable=SC2046
gcc -Wall -Wextra -Werror -o "$tmp/pc_static" "$here/consumer/consumer.c" \
  $(pkg-config --cflags --libs thetatree-static) || die "pkg-config consumer (static): build"

expected=""
for exe in consumer/consumer_shared consumer/consumer_static consumer/consumer_cpp pc_shared pc_static; do
  bin="$tmp/$exe"
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd' ')
  case "$exe" in
    *static)
      [[ " $needed " != *" libthetatree.so "* ]] || die "$exe links libthetatree.so: $needed" ;;
    *)
      [[ " $needed " == *" libthetatree.so "* ]] || die "$exe does not need libthetatree.so: $needed"
      resolved=$(env -u LD_LIBRARY_PATH ldd "$bin" | awk '/libthetatree.so/ {print $3}')
      [ "$(readlink -f "$resolved")" = "$(readlink -f "$libdir/libthetatree.so")" ] ||
        die "$exe resolves libthetatree.so to '$resolved', not the installed $libdir" ;;
  esac
  out=$(env -u LD_LIBRARY_PATH "$bin" "$model") || die "$exe failed"
  printf '  %-28s %s  (NEEDED: %s)\n' "$exe" "$out" "$needed"
  [ -z "$expected" ] && expected=$out
  [ "$out" = "$expected" ] || die "$exe printed '$out', expected '$expected'"
done
summaries+=("[install] 5 consumers (find_package shared/static/C++, pkg-config shared/static) OK")

step "summary"
printf '%s\n' "${summaries[@]}"
echo "run-tests.sh: all passed"
