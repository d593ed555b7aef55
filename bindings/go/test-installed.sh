#!/usr/bin/env bash
# The Go binding as a user outside this repository meets it (called by run-tests.sh; needs
# `cargo build --release` done):
#   1. cmake --install the C library (bindings/c) into a temporary prefix;
#   2. copy bindings/go alone to a temporary directory, as a module proxy would deliver it;
#   3. create a consumer module there that requires github.com/thetatree/thetatree/bindings/go
#      with a replace to that copy (GOPROXY=off: no network), and build it with
#      PKG_CONFIG_PATH=<prefix>/lib/pkgconfig, statically (the default) and with
#      -tags thetatree_shared;
#   4. check the static binary has no NEEDED libthetatree and the shared one needs
#      libthetatree.so.<ABI>, and that both predict examples/mushroom/rows.csv exactly as the
#      reference did (examples/mushroom/expected.csv, probabilities compared bit for bit).
# The static binary is run with the prefix moved away. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib_dir=${CARGO_TARGET_DIR:-$repo/target}/release
ex=$repo/examples/mushroom

die() { echo "test-installed.sh: FAILED: $*" >&2; exit 1; }
for tool in cmake pkg-config readelf python3 go; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -f "$lib_dir/libthetatree.a" ] || die "$lib_dir/libthetatree.a not found: run cargo build --release"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "$tmp/" in "$repo"/*) die "the temporary directory $tmp is inside the repository" ;; esac

echo "-- cmake --install into $tmp/prefix"
cmake -S "$repo/bindings/c" -B "$tmp/build" -DTT_CARGO_BUILD=OFF -DTT_RUST_LIB_DIR="$lib_dir" \
  -DTT_BUILD_TESTS=OFF -DTT_BUILD_EXAMPLES=OFF -DTT_BUILD_CPP=OFF >"$tmp/cmake.log" 2>&1 &&
  cmake --build "$tmp/build" >>"$tmp/cmake.log" 2>&1 &&
  cmake --install "$tmp/build" --prefix "$tmp/prefix" >>"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; die "installing the C library"; }
pcdir=$(dirname "$(find "$tmp/prefix" -name thetatree-static.pc -print -quit)")
libdir=$(pkg-config --variable=libdir "$pcdir/thetatree.pc")
abi=$(pkg-config --variable=abi_version "$pcdir/thetatree.pc")

echo "-- module copy (bindings/go alone) and consumer module outside the repository"
cp -R "$here" "$tmp/binding"
rm -rf "$tmp/binding/.git"
mkdir "$tmp/consumer"
cp "$here/testdata/consumer/main.go" "$tmp/consumer/main.go"
cat >"$tmp/consumer/go.mod" <<EOF
module example.com/consumer

go 1.24

require github.com/thetatree/thetatree/bindings/go v0.0.0

replace github.com/thetatree/thetatree/bindings/go => $tmp/binding
EOF

# The model, compiled with the installed CLI.
"$tmp/prefix/bin/thetatree" compile "$ex/model.json" --features "$ex/feature_mapping.json" \
  -o "$tmp/mushroom.ttm" >/dev/null 2>&1 || die "compiling the model with the installed CLI"

check_output() { # out.csv: same labels and probability bits as the reference
  python3 - "$ex/expected.csv" "$1" <<'PY'
import csv, sys
exp = list(csv.DictReader(open(sys.argv[1])))
got = list(csv.DictReader(open(sys.argv[2])))
assert len(exp) == len(got) > 0, (len(exp), len(got))
for e, g in zip(exp, got):
    assert e["row"] == g["row"] and e["pred"] == g["pred"], (e, g)
    for p in ("p0", "p1"):
        assert float(e[p]).hex() == float(g[p]).hex(), (p, e, g)
print(f"   {len(got)} rows: labels and probabilities equal examples/mushroom/expected.csv bit for bit")
PY
}

export PKG_CONFIG_PATH=$pcdir GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=1
unset LD_LIBRARY_PATH
for linkage in static shared; do
  tags=()
  [ "$linkage" = shared ] && tags=(-tags thetatree_shared)
  echo "-- go build ($linkage) with PKG_CONFIG_PATH=$pcdir"
  (cd "$tmp/consumer" && go build "${tags[@]}" -o "$tmp/consumer-$linkage" .) || die "go build ($linkage)"
  needed=$(readelf -d "$tmp/consumer-$linkage" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd' ')
  echo "   NEEDED: $needed"
  run=("$tmp/consumer-$linkage")
  if [ "$linkage" = static ]; then
    [[ " $needed " != *libthetatree* ]] || die "the static build needs a shared libthetatree: $needed"
  else
    [[ " $needed " == *" libthetatree.so.$abi "* ]] || die "the shared build does not need libthetatree.so.$abi: $needed"
    run=(env LD_LIBRARY_PATH="$libdir" "$tmp/consumer-$linkage")
    resolved=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/consumer-$linkage" | awk '/libthetatree/ {print $3}')
    [ "$(readlink -f "$resolved")" = "$(readlink -f "$libdir/libthetatree.so.$abi")" ] ||
      die "libthetatree.so.$abi resolves to '$resolved', not the installed $libdir"
  fi
  # The static binary must run with the installed library gone.
  [ "$linkage" = static ] && mv "$tmp/prefix" "$tmp/prefix.moved"
  "${run[@]}" "$tmp/mushroom.ttm" "$ex/rows.csv" >"$tmp/out-$linkage.csv" 2>"$tmp/err-$linkage.txt" ||
    { cat "$tmp/err-$linkage.txt"; die "the $linkage consumer failed"; }
  [ "$linkage" = static ] && mv "$tmp/prefix.moved" "$tmp/prefix"
  sed 's/^/   /' "$tmp/err-$linkage.txt"
  grep -q "linked $linkage" "$tmp/err-$linkage.txt" || die "the $linkage build reports another linkage"
  check_output "$tmp/out-$linkage.csv" || die "the $linkage consumer's predictions differ from the reference"
done
echo "test-installed.sh: a module outside the repository builds and predicts against the installed library"
