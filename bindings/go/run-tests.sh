#!/usr/bin/env bash
# Go binding (bindings/go, package thetatree): build what it links against, then gofmt, go vet,
# the race-enabled tests (golden parity on every reference model, concurrency, Close under load,
# every error path, zero-allocation checks, the example program), a short benchmark run
# showing allocations, and test-installed.sh (a module outside the repository against a copy of
# this binding and a `cmake --install`ed library). Exits non-zero on any failure.
#
# The package finds the C library through pkg-config; in the checkout, PKG_CONFIG_PATH points
# at the in-tree prefix bindings/c/dev-prefix.sh lays out over target/release.
#
# Environment: TT_REFERENCE_DIR (golden data, default the bundled <repo>/tests/data/reference),
# TT_REFERENCE_MODELS_DIR (compiled models, default <repo>/target/reference-models).
#
# The REST service is its own module in service/ with its own runner (service/run-tests.sh);
# it is not tested here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../tests/data/reference.sh
. "$repo/tests/data/reference.sh"
export TT_REFERENCE_MODELS_DIR=${TT_REFERENCE_MODELS_DIR:-$repo/target/reference-models}
export CGO_ENABLED=1
pkgs=(. ./examples/... ./internal/...)

step() { echo; echo "==> $*"; }

for tool in go pkg-config cmake readelf; do
  command -v "$tool" >/dev/null || { echo "run-tests.sh: $tool is not installed" >&2; exit 1; }
done
TT_REFERENCE_DIR=$(tt_reference_dir) || exit 1
export TT_REFERENCE_DIR

step "cargo build --release (libthetatree.a, thetatree CLI)"
(cd "$repo" && cargo build --release)
PKG_CONFIG_PATH=$("$repo/bindings/c/dev-prefix.sh")
export PKG_CONFIG_PATH
echo "PKG_CONFIG_PATH=$PKG_CONFIG_PATH: $(pkg-config --libs thetatree-static)"

# Compile the reference models unless every model listed in tests/reference_models.tsv exists.
missing=0
while IFS=$'\t' read -r name _; do
  case "$name" in ''|'#'*) continue ;; esac
  [ -f "$TT_REFERENCE_MODELS_DIR/$name.ttm" ] || missing=$((missing + 1))
done < "$repo/tests/reference_models.tsv"
if [ "$missing" -gt 0 ]; then
  step "compile reference models into $TT_REFERENCE_MODELS_DIR ($missing missing)"
  "$repo/.ci/compile-reference-models" "$TT_REFERENCE_MODELS_DIR"
fi

cd "$here"
step "gofmt"
unformatted=$(gofmt -l ./*.go examples internal testdata)
if [ -n "$unformatted" ]; then
  echo "gofmt needed:"; echo "$unformatted"; exit 1
fi

step "go vet ${pkgs[*]} (static, and -tags thetatree_shared)"
go vet "${pkgs[@]}"
go vet -tags thetatree_shared "${pkgs[@]}"
(cd testdata/consumer && go vet main.go)

step "go test -race -count=1 ${pkgs[*]}"
go test -race -count=1 "${pkgs[@]}"

step "benchmarks (short: -benchtime=2000x)"
go test -run xxx -bench . -benchtime=2000x -benchmem .

step "outside the repository: go build against an installed prefix (test-installed.sh)"
"$here/test-installed.sh"

echo
echo "bindings/go: all checks passed"
