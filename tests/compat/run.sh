#!/usr/bin/env bash
# Runs the compatibility suite: unmodified Kafka, AMQP and HTTP clients against the real
# `hubgate` binary on ephemeral loopback ports. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/tests/compat/setup.sh"
export HUBGATE_BIN="${HUBGATE_BIN:-$root/target/debug/hubgate}"
if [[ ! -x "$HUBGATE_BIN" ]]; then
    (cd "$root" && cargo build -p hubgate --bin hubgate)
fi
cd "$root/tests/compat"
exec "$root/.venv/bin/python" -m pytest -n 2 --timeout 300 -q "$@"
