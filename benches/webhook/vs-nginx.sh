#!/usr/bin/env bash
# The deployed webhook (`albatross webhook --skip-api-server-checks`, cluster mode) against nginx
# answering a static AdmissionReview over TLS, in one run, each pinned to the same core, the
# load generator (wrk) on another. Loopback only; nginx runs as a child of this script with a
# config in a temporary folder and the webhook's own self-signed certificate.
#
#   benches/webhook/vs-nginx.sh                 # 10 s per step
#   DURATION=30s benches/webhook/vs-nginx.sh
#
# Needs: nginx, wrk (Debian packages), taskset, curl. The worst-case answer time over the
# adversarial corpus is the Rust bench: `taskset -c 0 cargo bench --bench webhook_cost`.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/bench-target}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PORT="${PORT:-9443}"
ADMIN_PORT="${ADMIN_PORT:-8080}"
NGINX_PORT="${NGINX_PORT:-9444}"
BODY="${BODY:-$HERE/review-httproute.json}"
BIN="$CARGO_TARGET_DIR/release/albatross"

for tool in nginx wrk taskset curl; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done
(cd "$ROOT" && cargo build --release --bin albatross)

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$BODY", "rb")
wrk.body = f:read("*a")
f:close()
LUA

# wrk's requests/s against $1; every answer must be a 200.
load() {
    local out
    out="$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/post.lua" "$1")"
    if grep -q "Non-2xx" <<<"$out"; then echo "$out" >&2; exit 1; fi
    awk '/Requests\/sec/ { print $2 }' <<<"$out"
}

start_webhook() {
    mkdir -p "$WORK/certs"
    taskset -c "$SERVER_CPU" "$BIN" webhook --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
        --self-signed "$WORK/certs" "$@" >"$WORK/webhook.log" 2>&1 &
    WEBHOOK=$!
    PIDS+=("$WEBHOOK")
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && return
        sleep 0.1
    done
    cat "$WORK/webhook.log" >&2
    exit 1
}

stop_webhook() {
    kill "$WEBHOOK"
    wait "$WEBHOOK" 2>/dev/null || true
}

# Warm-up compiles the CEL rules of the kind and fills caches; then the measured step.
start_webhook
curl -fsSk -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary "@$BODY" "https://127.0.0.1:$PORT/validate"
DURATION=2s load "https://127.0.0.1:$PORT/validate" >/dev/null
FULL="$(load "https://127.0.0.1:$PORT/validate")"
stop_webhook

start_webhook --skip-api-server-checks
DURATION=2s load "https://127.0.0.1:$PORT/validate" >/dev/null
CLUSTER="$(load "https://127.0.0.1:$PORT/validate")"
stop_webhook

RESPONSE='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true}}'
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $WORK/certs/tls.crt;
        ssl_certificate_key $WORK/certs/tls.key;
        ssl_protocols TLSv1.3;
        keepalive_requests 100000000;
        location / {
            default_type application/json;
            return 200 '$RESPONSE';
        }
    }
}
CONF
taskset -c "$SERVER_CPU" nginx -p "$WORK/nginx" -c "$WORK/nginx.conf" &
PIDS+=("$!")
for _ in $(seq 100); do
    curl -fsSk -o /dev/null "https://127.0.0.1:$NGINX_PORT/" 2>/dev/null && break
    sleep 0.1
done
DURATION=2s load "https://127.0.0.1:$NGINX_PORT/validate" >/dev/null
NGINX="$(load "https://127.0.0.1:$NGINX_PORT/validate")"

printf 'one core, TLS 1.3, HTTP/1.1 keep-alive, %s connections, %s per step, body %s\n' \
    "$CONNECTIONS" "$DURATION" "$(basename "$BODY")"
printf '%-44s %12s\n' "server" "requests/s"
printf '%-44s %12s\n' "nginx, static AdmissionReview answer" "$NGINX"
printf '%-44s %12s\n' "albatross webhook --skip-api-server-checks" "$CLUSTER"
printf '%-44s %12s\n' "albatross webhook (full rule set)" "$FULL"
awk -v c="$CLUSTER" -v n="$NGINX" 'BEGIN { printf "cluster mode / nginx: %.2fx (target: at least 0.5x)\n", c / n }'
