#!/usr/bin/env bash
# Instructions per cluster-mode review (`albatross webhook --skip-api-server-checks`), counted by
# callgrind: the same figure for the same binary and body whatever else the machine runs, so a
# change's effect shows even on a busy machine where requests/s do not. Loopback only.
#
#   benches/webhook/instructions.sh                  # 100 and 1,100 reviews; prints the difference / 1,000
#   BIN=/path/to/albatross benches/webhook/instructions.sh
#
# Needs: valgrind, curl. One keep-alive connection (curl reuses it for every URL it is given),
# so the handshake and start-up cancel out of the difference between the two runs.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/bench-target}"
BODY="${BODY:-$HERE/review-httproute.json}"
PORT="${PORT:-9543}"
ADMIN_PORT="${ADMIN_PORT:-8180}"
if [ -z "${BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --bin albatross)
    BIN="$CARGO_TARGET_DIR/release/albatross"
fi
for tool in valgrind curl; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Total instructions of a webhook that starts, answers $1 reviews over one connection and stops.
count() {
    valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$BIN" webhook --listen "127.0.0.1:$PORT" \
        --admin-listen "127.0.0.1:$ADMIN_PORT" --self-signed "$WORK/certs" --skip-api-server-checks \
        >"$WORK/log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do
        curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    local urls=()
    for _ in $(seq "$1"); do urls+=("https://127.0.0.1:$PORT/validate"); done
    curl -fsSk -X POST -H 'Content-Type: application/json' --data-binary "@$BODY" "${urls[@]}" >/dev/null
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    awk '/^(summary|totals):/ { print $2; exit }' "$WORK/out"
}

few="$(count 100)"
many="$(count 1100)"
echo "instructions per cluster-mode review ($(basename "$BODY")): $(( (many - few) / 1000 ))"
