#!/usr/bin/env bash
# Tests of the service module (service/, thetatree-serve): gofmt, go vet and the race-enabled
# test suite. Needs the Rust library and CLI (cargo build --release in the repository root;
# built here if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
if [ ! -f "$repo/target/release/libthetatree.a" ] || [ ! -x "$repo/target/release/thetatree" ]; then
  (cd "$repo" && cargo build --release)
fi
cd "$here"
unformatted=$(gofmt -l cmd)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 ./...
