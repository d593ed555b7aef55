#!/usr/bin/env bash
# thetatree-lambda end to end under the AWS Lambda Runtime Interface Emulator, on loopback:
#   1. installs the emulator (go install) if it is missing;
#   2. builds the deployment package as `sam build` does (deploy/sam/Makefile: static
#      bootstrap + model.ttm);
#   3. checks the bootstrap can run on provided.al2023 (glibc 2.34): static, or no
#      GLIBC_x.y symbol version above 2.34;
#   4. lints the SAM template with cfn-lint, if installed;
#   5. runs TestRIE (-tags rie): REST and HTTP API events through the emulator, answers
#      compared byte for byte with the service's, errors, and a timing table (cold start,
#      per-invocation).
# Needs Go, pkg-config, a C toolchain with static glibc, binutils (readelf, objdump); the Rust
# library built (cargo build --release).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gomod=$(cd "$here/../.." && pwd)
repo=$(cd "$gomod/.." && pwd)
AL2023_GLIBC=2.34
if [ -z "${PKG_CONFIG_PATH:-}" ]; then # the binding finds the library through pkg-config
  PKG_CONFIG_PATH=$("$repo/bindings/c/dev-prefix.sh")
  export PKG_CONFIG_PATH
fi

rie=${AWS_LAMBDA_RIE:-}
if [ -z "$rie" ]; then
  rie=$(command -v aws-lambda-rie || true)
  [ -n "$rie" ] || rie="$(go env GOPATH)/bin/aws-lambda-rie"
fi
if [ ! -x "$rie" ]; then
  echo "[rie-e2e] installing aws-lambda-rie" >&2
  GOFLAGS= go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest
  rie="$(go env GOPATH)/bin/aws-lambda-rie"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
task=$work/task
make -s -C "$gomod/deploy/sam" build-ClassifierFunction ARTIFACTS_DIR="$task" 2>"$work/build.log" || {
  cat "$work/build.log" >&2; exit 1; }

# glibc: a static binary has no program interpreter; a dynamic one may need nothing newer
# than Amazon Linux 2023's glibc.
check_glibc() { # binary
  if ! readelf -l "$1" | grep -q 'Requesting program interpreter'; then
    echo "[rie-e2e] $(basename "$1"): statically linked (no glibc needed at run time)"
    return 0
  fi
  local newest
  newest=$(objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  if [ "$(printf '%s\n%s\n' "$newest" "$AL2023_GLIBC" | sort -V | tail -1)" != "$AL2023_GLIBC" ]; then
    echo "[rie-e2e] $1 needs GLIBC_$newest, newer than Amazon Linux 2023's $AL2023_GLIBC" >&2
    return 1
  fi
  echo "[rie-e2e] $(basename "$1"): dynamic, newest glibc symbol version GLIBC_$newest <= $AL2023_GLIBC"
}
check_glibc "$task/bootstrap"
# The default (dynamic) cgo build, for the record: what a plain `go build` would need.
(cd "$gomod" && CGO_ENABLED=1 go build -tags lambda.norpc -o "$work/bootstrap-dynamic" ./cmd/thetatree-lambda)
check_glibc "$work/bootstrap-dynamic"

# The SAM template, when cfn-lint is installed (pip install cfn-lint; it applies the SAM
# transform): optional, since it is a Python tool.
if command -v cfn-lint >/dev/null; then
  cfn-lint "$gomod/deploy/sam/template.yaml" && echo "[rie-e2e] deploy/sam/template.yaml: cfn-lint clean"
else
  echo "[rie-e2e] cfn-lint not installed: template.yaml not linted"
fi

cd "$gomod"
TT_RIE="$rie" TT_LAMBDA_TASK="$task" TT_RIE_REPORT="${TT_RIE_REPORT:-}" \
  go test -count=1 -tags rie -run '^TestRIE$' -v ./cmd/thetatree-lambda 2>&1 | grep -v '^{"time"' | grep -v '^\s*$'
exit "${PIPESTATUS[0]}"
