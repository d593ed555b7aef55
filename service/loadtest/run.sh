#!/usr/bin/env bash
# Load test: thetatree-serve against the deployment guide's Flask design (Flask + gunicorn, the
# reference classifier emulated by reference_emulation.py), on loopback, same machine, same run.
# Both serve the same model (mushroom_gini_d5_lgk12: the bundled example v1 for thetatree-serve,
# the reference's persistence_tree.json for Flask) and get the same POST /predict bodies (rows of
# the mushroom input matrix, {"features": [[...]]}), checked to give identical answers first.
# Each case runs `wrk` at a fixed concurrency for a fixed time; prints one markdown table
# (also written to results.md).
#
# Knobs: DURATION (15s) CONNECTIONS (32) THREADS (2) ROWS ("1 100") GUNICORN_WORKERS (4, as the
# guide's Dockerfile) WARMUP (2s) TT_REFERENCE_DIR (default: the bundled tests/data/reference).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gomod=$(cd "$here/.." && pwd)
repo=$(cd "$gomod/.." && pwd)
# shellcheck source=../../tests/data/reference.sh
. "$repo/tests/data/reference.sh"
ref=$(tt_reference_dir)
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROWS=${ROWS:-"1 100"}
GUNICORN_WORKERS=${GUNICORN_WORKERS:-4}
WARMUP=${WARMUP:-2s}
model=mushroom_gini_d5_lgk12

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

log() { echo "[loadtest] $*" >&2; }

# --- tools --------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing wrk (Debian package)"
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "wrk is required: apt-get install wrk" >&2; exit 1
  fi
fi
[ -d "$ref/models/$model" ] || { echo "reference model $model not found in $ref" >&2; exit 1; }
if [ ! -f "${CARGO_TARGET_DIR:-$repo/target}/release/libthetatree.a" ]; then
  log "building the Rust library"; (cd "$repo" && cargo build --release)
fi
PKG_CONFIG_PATH=$("$repo/bindings/c/dev-prefix.sh")
export PKG_CONFIG_PATH
log "building thetatree-serve"
(cd "$gomod" && go build -o "$work/thetatree-serve" ./cmd/thetatree-serve)
if [ ! -x "$here/.venv/bin/gunicorn" ]; then
  log "creating the Flask venv ($here/.venv)"
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
fi
py=$here/.venv/bin/python

# --- request bodies -----------------------------------------------------------------------
input=$(tt_reference_file inputs/mushroom_X.csv "$work")
for n in $ROWS; do
  "$py" - "$input" "$n" > "$work/body_$n.json" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
n = int(sys.argv[2])
print(json.dumps({"features": [[int(c) for c in r[1:]] for r in rows[:n]]}, separators=(",", ":")))
PY
done

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # url
  for _ in $(seq 1 300); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "service at $1 did not come up" >&2; exit 1
}

# --- services -------------------------------------------------------------------------------
go_port=$(free_port)
"$work/thetatree-serve" -model-dir "$gomod/cmd/thetatree-serve/example/models" -pin-version v1 \
  -host 127.0.0.1 -port "$go_port" -access-log=false 2>"$work/serve.log" &
pids+=($!)
flask_port=$(free_port)
(cd "$here" && REFERENCE_MODEL_JSON="$ref/models/$model/persistence_tree.json" exec "$here/.venv/bin/gunicorn" \
  --workers "$GUNICORN_WORKERS" --bind "127.0.0.1:$flask_port" --timeout 30 --log-level warning \
  flask_app:app 2>"$work/gunicorn.log") &
pids+=($!)
wait_up "http://127.0.0.1:$go_port/ready"
wait_up "http://127.0.0.1:$flask_port/health"

# --- same answers? --------------------------------------------------------------------------
for n in $ROWS; do
  curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "@$work/body_$n.json" \
    "http://127.0.0.1:$go_port/predict" > "$work/go_$n.json"
  curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "@$work/body_$n.json" \
    "http://127.0.0.1:$flask_port/predict" > "$work/flask_$n.json"
  "$py" - "$work/go_$n.json" "$work/flask_$n.json" <<'PY'
import json, struct, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bits = lambda rows: [struct.pack("<d", float(x)) for r in rows for x in r]
assert a["predictions"] == b["predictions"], "labels differ"
assert bits(a["probabilities"]) == bits(b["probabilities"]), "probabilities differ"
PY
done
log "both services give identical answers (labels and probability bits)"

# --- load -----------------------------------------------------------------------------------
to_ms() { # "123.45us" | "1.2ms" | "1.01s" -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
results=()
for n in $ROWS; do
  for sys in thetatree-serve flask; do
    if [ $sys = flask ]; then url="http://127.0.0.1:$flask_port/predict"; else url="http://127.0.0.1:$go_port/predict"; fi
    WRK_BODY="$work/body_$n.json" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$here/post.lua" "$url" >/dev/null
    log "$sys, $n row(s) per request: $DURATION at $CONNECTIONS connections"
    WRK_BODY="$work/body_$n.json" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency \
      -s "$here/post.lua" "$url" > "$work/wrk.out"
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$work/wrk.out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$work/wrk.out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk.out")")
    total=$(awk '/requests in/ {print $1}' "$work/wrk.out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.out"); non2xx=${non2xx:-0}
    sockerr=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/wrk.out"); sockerr=${sockerr:-0}
    rowsps=$(awk -v r="$rps" -v n="$n" 'BEGIN {printf "%.0f", r * n}')
    results+=("| $sys | $n | $rps | $rowsps | $p50 | $p99 | $total | $((non2xx + sockerr)) |")
  done
done

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
{
  echo "Load test, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores ($cpu), loopback, wrk $THREADS threads /" \
       "$CONNECTIONS connections, $DURATION per case after a $WARMUP warm-up; model $model;" \
       "thetatree-serve GOMAXPROCS=$(nproc), access log off; Flask design: gunicorn $GUNICORN_WORKERS sync workers."
  echo
  echo "| service | rows/request | requests/s | rows/s | p50 ms | p99 ms | requests | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${results[@]}"
} | tee "$here/results.md"
