#!/usr/bin/env bash
# Issue 12's comparison in one command: the five generated tree families (benches/gen/families.rs)
# timed through thetatree's kernels, bit-packed and CSR entry points, against a gcc -O3 if/else
# generated from each tree (alternating in one process, int8 rows from >= 50 MB pools), plus
# scikit-learn and ONNX Runtime with the same trees injected. Prints one table (also written to
# $WORK/results.md and results.json).
#
#   benches/compare/families.sh                 # WORK defaults to $TARGET/compare-families
#   TT_SEED=7 TT_POOL_MB=64 TT_ROUNDS=15 benches/compare/families.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}
work=${WORK:-$target/compare-families}
venv=${VENV:-$target/compare/venv}
mkdir -p "$work"

echo "== cargo bench --bench families --features native --no-run" >&2
bench=$(cargo bench --bench families --features native --no-run --message-format=json |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "families" and m.get("executable"):
        print(m["executable"])')
[ -x "$bench" ] || { echo "families.sh: the families bench did not build" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  echo "== venv $venv" >&2
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import sklearn, numpy, onnxruntime, onnx" 2>/dev/null; then
  echo "== pip install scikit-learn numpy onnxruntime onnx" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check scikit-learn numpy onnxruntime onnx
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$venv/bin/python" "$repo/benches/compare/families.py" --bench "$bench" --work "$work"
