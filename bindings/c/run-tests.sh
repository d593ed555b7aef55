#!/usr/bin/env bash
# Build and test the C and C++ bindings end to end:
#   1. cargo build --release (the Rust library and the `thetatree` CLI)
#   2. compile the reference models (.ci/compile-reference-models) if missing or stale
#   3. configure + build + ctest: normal, ASan+UBSan(+LSan), TSan (C tests only)
#   4. install to a temporary prefix: check the shared library's layout (real file, SONAME
#      link, development link) and SONAME; build consumers with find_package(thetatree) and with
#      pkg-config (shared and static), check what they record as NEEDED (libthetatree.so.<ABI>
#      or nothing) and that they run against the installed symlinks; configure bindings/cpp on
#      its own against the prefix and run its tests (the installed thetatree.hpp)
# Exits non-zero on any failure.
#
# Environment: JOBS (default 2), TT_REFERENCE_DIR (default <repo>/tests/data/reference),
# TT_MODELS_DIR (default <repo>/target/reference-models), TT_SKIP_ASAN=1, TT_SKIP_TSAN=1,
# TT_SKIP_CPP_STANDALONE=1,
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
step "install: layout, SONAME"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
cmake --install "$build_root/build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; die "install"; }
sed 's/^/  /' "$tmp/install.log"
header_macro() { sed -n "s/^#define TT_$1 \([0-9][0-9]*\).*/\1/p" "$repo/include/thetatree.h"; }
version=$(header_macro VERSION_MAJOR).$(header_macro VERSION_MINOR).$(header_macro VERSION_PATCH)
abi=$(header_macro ABI_VERSION)
soname=libthetatree.so.$abi
real=$soname.$version
pcdir=$(dirname "$(find "$prefix" -name thetatree.pc -print -quit)")
libdir=$(dirname "$(find "$prefix" -name "$real" -print -quit)")
for f in include/thetatree.h include/thetatree.hpp bin/thetatree; do [ -f "$prefix/$f" ] || die "not installed: $f"; done
[ -f "$libdir/$real" ] && [ ! -L "$libdir/$real" ] || die "not installed as a regular file: $real"
[ "$(readlink "$libdir/$soname")" = "$real" ] || die "$soname is not a symlink to $real"
[ "$(readlink "$libdir/libthetatree.so")" = "$soname" ] || die "libthetatree.so is not a symlink to $soname"
[ -f "$libdir/libthetatree.a" ] || die "not installed: libthetatree.a"
lib_soname=$(readelf -d "$libdir/$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$lib_soname" = "$soname" ] || die "$real has SONAME '$lib_soname', expected $soname (TT_ABI_VERSION $abi)"
ls -l "$libdir" | grep thetatree | sed 's/^/  /'
echo "  SONAME of $real: $lib_soname"
[ -f "$pcdir/thetatree-static.pc" ] || die "not installed: thetatree-static.pc"
[ -n "$(find "$prefix" -name thetatreeConfig.cmake)" ] || die "not installed: thetatreeConfig.cmake"
[ -n "$(find "$prefix" -name thetatreeConfigVersion.cmake)" ] || die "not installed: thetatreeConfigVersion.cmake"
cmp -s "$prefix/include/thetatree.h" "$repo/include/thetatree.h" || die "installed header differs"
# The build tree links the same way (its lib/ holds the same three names).
needed=$(readelf -d "$build_root/build/parity" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd' ')
[[ " $needed " == *" $soname "* ]] || die "build/parity does not need $soname: $needed"
model="$models/$(awk -F'\t' '!/^#/ && NF {print $1; exit}' "$repo/tests/reference_models.tsv").ttm"

step "install: find_package / pkg-config consumers"
cmake -S "$here/consumer" -B "$tmp/consumer" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DTT_EXPECT_VERSION="$version" >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log"; die "find_package consumer: configure"; }
grep 'found thetatree' "$tmp/consumer.log" | sed 's/^/  /'
cmake --build "$tmp/consumer" -j "$jobs" >"$tmp/consumer-build.log" 2>&1 || { cat "$tmp/consumer-build.log"; die "find_package consumer: build"; }

export PKG_CONFIG_PATH="$pcdir"
[ "$(pkg-config --modversion thetatree)" = "$version" ] || die "pkg-config version"
[ "$(pkg-config --variable=soname thetatree)" = "$soname" ] || die "pkg-config soname"
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
      [[ " $needed " != *" libthetatree"* ]] || die "$exe links a shared libthetatree: $needed" ;;
    *)
      [[ " $needed " == *" $soname "* ]] || die "$exe does not need $soname: $needed"
      resolved=$(env -u LD_LIBRARY_PATH ldd "$bin" | awk -v so="$soname" '$1 == so {print $3}')
      [ "$resolved" -ef "$libdir/$soname" ] && [ "$(readlink -f "$resolved")" = "$(readlink -f "$libdir/$real")" ] ||
        die "$exe resolves $soname to '$resolved', not the installed $libdir/$soname" ;;
  esac
  out=$(env -u LD_LIBRARY_PATH "$bin" "$model") || die "$exe failed"
  printf '  %-28s %s  (NEEDED: %s)\n' "$exe" "$out" "$needed"
  [ -z "$expected" ] && expected=$out
  [ "$out" = "$expected" ] || die "$exe printed '$out', expected '$expected'"
done
summaries+=("[install] $real, $soname -> it, libthetatree.so -> $soname; SONAME $soname")
summaries+=("[install] 5 consumers (find_package shared/static/C++, pkg-config shared/static) OK")

if [ "${TT_SKIP_CPP_STANDALONE:-0}" != 1 ]; then
  step "install: bindings/cpp on its own (find_package against the prefix, installed thetatree.hpp)"
  cmake -S "$repo/bindings/cpp" -B "$tmp/cpp" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
    -DTT_MODELS_DIR="$models" -DTT_CPP_STANDARDS=17 -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$tmp/cpp.log" 2>&1 ||
    { cat "$tmp/cpp.log"; die "bindings/cpp standalone: configure"; }
  grep -E 'thetatree .* from' "$tmp/cpp.log" | sed 's/^/  /'
  cmake --build "$tmp/cpp" -j "$jobs" >"$tmp/cpp-build.log" 2>&1 || { cat "$tmp/cpp-build.log"; die "bindings/cpp standalone: build"; }
  # The tests must compile against the installed headers, not the ones in the checkout.
  grep -q -- "$prefix/include" "$tmp/cpp/compile_commands.json" && ! grep -q -- "bindings/cpp/include" "$tmp/cpp/compile_commands.json" ||
    die "bindings/cpp standalone does not compile against the installed include directory only"
  ctest --test-dir "$tmp/cpp" --output-on-failure --timeout 300 >"$tmp/cpp-ctest.log" 2>&1 ||
    { cat "$tmp/cpp-ctest.log"; die "bindings/cpp standalone: ctest"; }
  grep -E 'tests passed|tests failed' "$tmp/cpp-ctest.log" | sed 's/^/  /'
  summaries+=("[cpp standalone] $(grep -E 'tests passed|tests failed' "$tmp/cpp-ctest.log" | tail -1)")
fi

step "summary"
printf '%s\n' "${summaries[@]}"
echo "run-tests.sh: all passed"
