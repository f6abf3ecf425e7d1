#!/usr/bin/env bash
# HTTP batch-ingest benchmark: a release `hubgate` with the default (strict, fsynced) durability
# on a temporary sled directory, driven by wrk over keep-alive connections.
#
#   protocols/http/bench/run.sh [DURATION] [CONNECTIONS]      # defaults: 20s, 16
#   EVENTS=100 EVENT_BYTES=1024 protocols/http/bench/run.sh
#
# Needs `wrk` (Debian: apt-get install wrk). Prints wrk's report, events/s and latency
# percentiles, then stops the gateway.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
duration="${1:-20s}"
connections="${2:-16}"
bin="${HUBGATE_BIN:-$root/target/release/hubgate}"
[[ -x "$bin" ]] || (cd "$root" && cargo build --release -p hubgate)
data="$(mktemp -d)"
log="$data/hubgate.log"
port=$((20000 + RANDOM % 20000))
"$bin" serve --data-dir "$data/db" --kafka-listen off --amqp-listen off \
    --http-listen "127.0.0.1:$port" 2>"$log" &
gateway=$!
trap 'kill "$gateway" 2>/dev/null; wait "$gateway" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
    grep -q "hubgate ready" "$log" && break
    sleep 0.1
done
grep -q "hubgate ready" "$log" || { cat "$log"; exit 1; }
wrk -t 2 -c "$connections" -d "$duration" --latency -s "$root/protocols/http/bench/batch.lua" \
    "http://127.0.0.1:$port/bench/messages"
