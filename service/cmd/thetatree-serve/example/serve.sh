#!/usr/bin/env bash
# Start thetatree-serve on the bundled example models (loopback, port 8080), building the Rust
# library first if needed. Extra arguments go to thetatree-serve (e.g. -port 9090).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gomod=$(cd "$here/../../.." && pwd)
repo=$(cd "$gomod/.." && pwd)
if [ ! -f "${CARGO_TARGET_DIR:-$repo/target}/release/libthetatree.a" ]; then
  (cd "$repo" && cargo build --release)
fi
PKG_CONFIG_PATH=$("$repo/bindings/c/dev-prefix.sh")
export PKG_CONFIG_PATH
cd "$gomod"
exec go run ./cmd/thetatree-serve -model-dir "$here/models" -host 127.0.0.1 -admin-token "${ADMIN_TOKEN:-example-admin-token}" "$@"
