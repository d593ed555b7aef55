#!/usr/bin/env bash
# End-to-end demo on the bundled mushroom model: build, compile the reference JSON to .ttm,
# inspect and verify it, predict a CSV (empty cells = missing), and check the result against
# the reference's own outputs for those rows (examples/mushroom/expected.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
ex=examples/mushroom
out=target/demo
mkdir -p "$out"
cargo build --release --quiet
tt=./target/release/thetatree
$tt compile $ex/model.json --features $ex/feature_mapping.json \
    --model-version demo-1 --class-labels p,e -o $out/mushroom.ttm
$tt verify $out/mushroom.ttm
$tt inspect $out/mushroom.ttm | head -18
echo
echo "== predictions for $ex/rows.csv (pred = class index; label: e = edible, p = poisonous) =="
$tt predict $out/mushroom.ttm $ex/rows.csv -o $out/predictions.csv
cat $out/predictions.csv
# Same labels and the same probabilities, to the last bit, as the Python reference.
python3 - "$ex/expected.csv" "$out/predictions.csv" <<'PY'
import csv, sys
exp = list(csv.DictReader(open(sys.argv[1])))
got = list(csv.DictReader(open(sys.argv[2])))
assert len(exp) == len(got), (len(exp), len(got))
for e, g in zip(exp, got):
    assert e["pred"] == g["pred"], (e, g)
    assert float(e["p0"]).hex() == float(g["p0"]).hex() and float(e["p1"]).hex() == float(g["p1"]).hex(), (e, g)
print(f"demo: {len(got)} rows match the reference outputs bit for bit")
PY
