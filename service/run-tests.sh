#!/usr/bin/env bash
# Tests of the service module (service/: thetatree-serve, thetatree-lambda, internal/):
# gofmt, go vet, the race-enabled test suite of every package, and thetatree-lambda end to
# end under the AWS Lambda Runtime Interface Emulator (cmd/thetatree-lambda/rie-e2e.sh,
# which installs the emulator with `go install` if it is missing). Needs the Rust library
# and CLI (cargo build --release in the repository root; built here if missing); the binding
# finds the library through pkg-config, here the in-tree prefix of bindings/c/dev-prefix.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
lib_dir=${CARGO_TARGET_DIR:-$repo/target}/release
if [ ! -f "$lib_dir/libthetatree.a" ] || [ ! -x "$lib_dir/thetatree" ]; then
  (cd "$repo" && cargo build --release)
fi
PKG_CONFIG_PATH=$("$repo/bindings/c/dev-prefix.sh")
export PKG_CONFIG_PATH
cd "$here"
unformatted=$(gofmt -l cmd internal loadtest)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags lambda.norpc ./cmd/thetatree-lambda
go vet -tags rie ./cmd/thetatree-lambda
go test -race -count=1 ./...
"$here/cmd/thetatree-lambda/rie-e2e.sh"
