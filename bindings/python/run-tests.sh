#!/usr/bin/env bash
# The Python package's suite: lint the Rust side (fmt, clippy, unit tests), make a venv,
# `pip install` the package from this directory (maturin builds the abi3 extension), then run
# pytest (parity with the reference, inputs, models, explanations (apply / decision_path /
# predict_contrib, with and without scipy), hostile pickles, the guide's examples, and
# thetatree.spark's Arrow batch core, which needs pyarrow but not Spark).
#
#   bindings/python/run-tests.sh              # venv in target/py-venv
#   TT_PY_VENV=/some/venv PYTHON=python3.12 bindings/python/run-tests.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${TT_PY_VENV:-$repo/target/py-venv}
python=${PYTHON:-python3}
pip_q=(-q --disable-pip-version-check)

if [ ! -x "$venv/bin/python" ]; then
  echo "== venv $venv"
  "$python" -m venv "$venv"
fi
echo "== pip install test dependencies"
"$venv/bin/pip" install "${pip_q[@]}" "maturin>=1.7,<2" numpy pandas pytest flask pyarrow scipy

echo "== cargo fmt / clippy / test (bindings/python)"
export PYO3_PYTHON="$venv/bin/python" PATH="$venv/bin:$PATH"
(cd "$here" && cargo fmt -- --check && cargo clippy --release --all-targets -- -D warnings && cargo test --release --quiet)

echo "== pip install ./bindings/python"
"$venv/bin/pip" install "${pip_q[@]}" --no-build-isolation --force-reinstall --no-deps "$here"

echo "== pytest"
cd "$here/tests"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
