#!/usr/bin/env bash
# Build the C library (for the C-ABI column) and the Python package, install the comparison
# runtimes into the test venv, and print the benchmark table (also written to
# target/py-bench.md). Arguments go to bench.py (e.g. --rows 8192).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
venv=${TT_PY_VENV:-$repo/target/py-venv}
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
export PATH="$venv/bin:$PATH"
pip_q=(-q --disable-pip-version-check)
(cd "$repo" && cargo build --release --quiet --lib)
pip install "${pip_q[@]}" "maturin>=1.7,<2" numpy scikit-learn onnxruntime skl2onnx
pip install "${pip_q[@]}" --no-build-isolation --force-reinstall --no-deps "$repo/bindings/python"
# One thread everywhere: the measurements are single-threaded by design.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
exec python "$here/bench.py" --out "$repo/target/py-bench.md" "$@"
