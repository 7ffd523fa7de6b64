#!/usr/bin/env bash
# `albatross validate` throughput: objects per second on a big generated manifest.
#
#   benches/validate/run.sh                # 10,000 HTTPRoutes + 1,000 Gateways + 1 GatewayClass
#   ROUTES=1000 GATEWAYS=100 benches/validate/run.sh
#
# Needs hyperfine and GNU time (Debian packages `hyperfine`, `time`), python3. Pinned to core 0.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/bench-target}"
ROUTES="${ROUTES:-10000}"
GATEWAYS="${GATEWAYS:-1000}"
RUNS="${RUNS:-5}"
CPU="${CPU:-0}"
OUT="${OUT:-/tmp/albatross-bench-validate}"
BIN="$CARGO_TARGET_DIR/release/albatross"

(cd "$ROOT" && cargo build --release --bin albatross)
mkdir -p "$OUT"
MANIFEST="$OUT/big.yaml"
python3 "$HERE/gen-manifest.py" "$ROUTES" "$GATEWAYS" >"$MANIFEST"
OBJECTS=$((ROUTES + GATEWAYS + 1))
echo "manifest: $MANIFEST, $OBJECTS objects, $(wc -c <"$MANIFEST") bytes"

# Every object must be accepted (exit 0), or the figure would measure early rejections.
"$BIN" validate "$MANIFEST" --output json >"$OUT/report.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("summary:", s); assert s["objects"]==int(sys.argv[2]) and s["rejected"]==0, s' \
    "$OUT/report.json" "$OBJECTS"

hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/hyperfine.json" \
    "taskset -c $CPU $BIN validate $MANIFEST --output json > /dev/null"
taskset -c "$CPU" /usr/bin/time -v "$BIN" validate "$MANIFEST" --output json >/dev/null 2>"$OUT/time.txt"
grep -E 'Elapsed|Maximum resident' "$OUT/time.txt"
python3 - "$OUT/hyperfine.json" "$OBJECTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
n = int(sys.argv[2])
print(f"mean {r['mean']:.3f} s ± {r['stddev']:.3f} (min {r['min']:.3f}): {n / r['mean']:.0f} objects/s")
PY
