#!/usr/bin/env bash
# Issue 4's comparison in one command: builds thetatree (release), makes a venv with
# scikit-learn, numpy, onnxruntime and skl2onnx, trains the four trees on deterministic synthetic
# data, exports them to the reference JSON, compiles them with `thetatree compile`, and times
# thetatree (C ABI and Python ctypes), scikit-learn, ONNX Runtime and a gcc -O3 if/else function
# generated from each tree, on the same rows, in the same run. Prints one table (also written to
# $WORK/results.md and results.json).
#
#   benches/compare/run.sh                  # WORK defaults to $TARGET/compare
#   ROWS=16384 ONEHOT_ROWS=4096 benches/compare/run.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}
work=${WORK:-$target/compare}
venv=${VENV:-$work/venv}
mkdir -p "$work"

echo "== cargo build --release" >&2
cargo build --release --quiet
# lib/ of the in-tree prefix holds the libthetatree.so.<ABI> link (the SONAME) the C harness
# needs at run time; target/release has only libthetatree.so.
lib=$(dirname "$("$repo/bindings/c/dev-prefix.sh")")
if [ ! -x "$venv/bin/python" ]; then
  echo "== venv $venv" >&2
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import sklearn, numpy, onnxruntime, skl2onnx" 2>/dev/null; then
  echo "== pip install scikit-learn numpy onnxruntime skl2onnx" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check scikit-learn numpy onnxruntime skl2onnx
fi
# One thread everywhere (the measurements are single-threaded by design).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$venv/bin/python" "$repo/benches/compare/compare.py" \
  --thetatree "$target/release/thetatree" --lib "$lib" --include "$repo/include" \
  --work "$work" --rows "${ROWS:-16384}" --onehot-rows "${ONEHOT_ROWS:-4096}"
