#!/usr/bin/env bash
# Single-row predictProba: per-call cost through the Java binding vs a direct C call.
# Usage: bench/run-bench.sh [MODEL_NAME] [CALLS] [RUNS]   (default mushroom_gini_d5_lgk12 1000000 7)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repo=$(cd "$here/../.." && pwd)
name=${1:-mushroom_gini_d5_lgk12}
calls=${2:-1000000}
runs=${3:-7}
models=${TT_MODELS_DIR:-$repo/target/reference-models}
# shellcheck source=../../../tests/data/reference.sh
. "$repo/tests/data/reference.sh"
dataset=$(awk -F'\t' -v n="$name" '$1 == n { print $4 }' "$repo/tests/reference_models.tsv")
[ -n "$dataset" ] || { echo "unknown model $name" >&2; exit 1; }

(cd "$here" && mvn -B -q -Dstyle.color=never test-compile)
out=$here/target/bench
mkdir -p "$out"
# Both programs take a plain CSV path: decompress the bundled fixture if needed.
input=$(tt_reference_file "inputs/${dataset}_X.csv" "$out")
gcc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I"$repo/include" \
  "$here/bench/direct_bench.c" "$repo/target/release/libthetatree.a" -lm -ldl -lpthread \
  -o "$out/direct_bench"
echo "model $name, first row of $input"
"$out/direct_bench" "$models/$name.ttm" "$input" "$calls" "$runs"
java -cp "$here/target/classes:$here/target/test-classes" io.thetatree.OverheadBench \
  "$models/$name.ttm" "$input" "$calls" "$runs"
