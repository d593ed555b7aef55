#!/usr/bin/env bash
# Tests of thetatree-serve: gofmt, go vet and the race-enabled test suite.
# Needs the Rust library and CLI (cargo build --release in the repository root; built here if
# missing) and the reference data ($TT_REFERENCE_DIR, default <repo>/../shared/reference).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gomod=$(cd "$here/../.." && pwd)
repo=$(cd "$gomod/../.." && pwd)
if [ ! -f "$repo/target/release/libthetatree.a" ] || [ ! -x "$repo/target/release/thetatree" ]; then
  (cd "$repo" && cargo build --release)
fi
cd "$gomod"
unformatted=$(gofmt -l cmd)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./cmd/...
go test -race -count=1 ./cmd/...
