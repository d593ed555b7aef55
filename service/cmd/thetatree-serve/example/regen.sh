#!/usr/bin/env bash
# Rebuild the bundled example models from the reference data (run after a .ttm format change).
#   v1 = mushroom, gini, max depth 5;   v2 = mushroom, entropy, max depth 8 (served: newest)
# Class 0 = poisonous, class 1 = edible (the reference pipeline's positive class is class=e).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
# shellcheck source=../../../../tests/data/reference.sh
. "$repo/tests/data/reference.sh"
ref=$(tt_reference_dir)
bin=$repo/target/release/thetatree
[ -x "$bin" ] || { echo "missing $bin: run cargo build --release in $repo" >&2; exit 1; }
build() { # version reference-model-name
  "$bin" compile "$ref/models/$2/model.json" --features "$ref/datasets/mushroom_feature_mapping.json" \
    --model-version "$2" --class-labels poisonous,edible -o "$here/models/$1/model.ttm"
}
build v1 mushroom_gini_d5_lgk12
build v2 mushroom_entropy_d8_lgk14
