#!/usr/bin/env bash
# Webhook benchmark: `albatross webhook` over TLS with keep-alive, on loopback only.
#
#   benches/webhook/run.sh            # everything, 30 s per load step
#   DURATION=10s benches/webhook/run.sh
#
# The server is pinned to core 0 (`taskset -c 0`), the load generator (oha) to core 1, so the
# figures are "what one core of the webhook does". Needs: oha (`cargo install oha --locked`),
# taskset, curl, python3. Results (oha JSON, RSS, a summary) go to $OUT
# (default /tmp/albatross-bench-webhook); the summary is also printed.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/bench-target}"
DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-16}"
RATES="${RATES:-1000 5000}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PORT="${PORT:-9443}"
ADMIN_PORT="${ADMIN_PORT:-8080}"
BODY="${BODY:-$HERE/review-httproute.json}"
OUT="${OUT:-/tmp/albatross-bench-webhook}"
BIN="$CARGO_TARGET_DIR/release/albatross"
# Optional allocator experiment: e.g. SERVER_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
# (Debian package libjemalloc2) runs the same binary with jemalloc instead of glibc malloc.
SERVER_PRELOAD="${SERVER_PRELOAD:-}"
# Extra flags for the server, e.g. SERVER_ARGS=--skip-api-server-checks.
SERVER_ARGS="${SERVER_ARGS:-}"

for tool in oha taskset curl python3; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

(cd "$ROOT" && cargo build --release --bin albatross)

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt
for port in "$PORT" "$ADMIN_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "127.0.0.1:$port is already in use; stop what listens there or set PORT / ADMIN_PORT" >&2
        exit 2
    fi
done
CERTS="$(mktemp -d)"
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER/status"; }  # kB

LD_PRELOAD="$SERVER_PRELOAD" taskset -c "$SERVER_CPU" "$BIN" webhook \
    --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" --self-signed "$CERTS" $SERVER_ARGS \
    >"$OUT/server.log" 2>&1 &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$CERTS"; }
trap cleanup EXIT

for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null
kill -0 "$SERVER" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
sleep 1
IDLE_RSS=$(rss VmRSS)

# One review by hand: the body must be allowed, so the whole validation path runs.
curl -ksS -X POST -H 'Content-Type: application/json' --data-binary "@$BODY" \
    "https://127.0.0.1:$PORT/validate" >"$OUT/answer.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["response"]; assert r["allowed"], r; print("answer:", json.dumps(r))' "$OUT/answer.json"
FIRST_RSS=$(rss VmRSS)

# CPU ticks (user, nice, system, irq, softirq, steal) of the server's core, and the server's own: their
# difference is other load on that core (e.g. a concurrent cargo build), which skews the figures.
core_busy() { awk -v c="cpu$SERVER_CPU" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
server_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER/stat"; }

load() { # NAME PATH DURATION [oha args...]
    local name=$1 path=$2 duration=$3
    shift 3
    local busy0 server0 started
    busy0=$(core_busy) server0=$(server_ticks) started=$(date +%s.%N)
    taskset -c "$LOAD_CPU" oha --no-tui --insecure -m POST -T application/json -D "$BODY" \
        -c "$CONNECTIONS" -z "$duration" --output-format json -o "$OUT/$name.json" "$@" \
        "https://127.0.0.1:$PORT$path"
    # Share of the server's core used by anything but the server during this step.
    python3 -c 'import sys, os; b, s, t = map(float, sys.argv[1:]); hz = os.sysconf("SC_CLK_TCK"); print(f"{b / hz / t * 100:.0f}% {s / hz / t * 100:.0f}%")' \
        "$(( $(core_busy) - busy0 - ($(server_ticks) - server0) ))" "$(( $(server_ticks) - server0 ))" \
        "$(python3 -c "import sys,time; print(time.time() - float(sys.argv[1]))" "$started")" >"$OUT/$name.cpu.txt"
}

load warmup /validate 5s
load max-validate /validate "$DURATION"
load max-mutate /mutate "$DURATION"
for rate in $RATES; do
    load "rate-$rate" /validate "$DURATION" -q "$rate" --latency-correction
done
END_RSS=$(rss VmRSS)
PEAK_RSS=$(rss VmHWM)

[ -n "$SERVER_PRELOAD" ] && echo "server LD_PRELOAD=$SERVER_PRELOAD"
python3 - "$OUT" "$IDLE_RSS" "$FIRST_RSS" "$END_RSS" "$PEAK_RSS" "$CONNECTIONS" "$DURATION" $RATES <<'EOF' | tee "$OUT/summary.txt"
import json, sys
out, idle, first, end, peak, conns, duration, *rates = sys.argv[1:]
def load(name):
    return json.load(open(f"{out}/{name}.json"))
def line(name, label):
    r = load(name)
    s, p = r["summary"], r["latencyPercentiles"]
    codes = r.get("statusCodeDistribution", {})
    errors = r.get("errorDistribution", {})
    ms = lambda v: f"{v * 1000:.3f}" if v is not None else "n/a"
    other, server = open(f"{out}/{name}.cpu.txt").read().split()
    print(f"{label:<22} {s['requestsPerSec']:>7.0f} req/s  p50 {ms(p.get('p50'))} ms  p99 {ms(p.get('p99'))} ms"
          f"  p99.9 {ms(p.get('p99.9'))} ms  max {ms(s.get('slowest'))} ms  server CPU {server}  other CPU on its core {other}"
          f"  codes {codes}  errors {errors}")
print(f"connections {conns}, {duration} per step, server on one core, TLS 1.3 + HTTP/1.1 keep-alive")
line("max-validate", "max /validate")
line("max-mutate", "max /mutate")
for rate in rates:
    line(f"rate-{rate}", f"/validate at {rate}/s")
mib = lambda kb: f"{int(kb) / 1024:.1f} MiB"
print(f"RSS idle after start {mib(idle)}, after first review {mib(first)}, end of load {mib(end)}, peak (VmHWM) {mib(peak)}")
EOF
