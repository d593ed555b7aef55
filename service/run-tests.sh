#!/usr/bin/env bash
# Tests of the service module (service/: thetatree-serve, thetatree-lambda, internal/):
# gofmt, go vet, the race-enabled test suite of every package, and thetatree-lambda end to
# end under the AWS Lambda Runtime Interface Emulator (cmd/thetatree-lambda/rie-e2e.sh,
# which installs the emulator with `go install` if it is missing). Needs the Rust library
# and CLI (cargo build --release in the repository root; built here if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
if [ ! -f "$repo/target/release/libthetatree.a" ] || [ ! -x "$repo/target/release/thetatree" ]; then
  (cd "$repo" && cargo build --release)
fi
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
