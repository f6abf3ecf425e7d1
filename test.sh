#!/usr/bin/env bash
# Runs every hubgate test: formatting and lint checks, unit tests, the storage conformance
# suite against every engine, and the end-to-end tests that drive the real binary.
set -euo pipefail
cd "$(dirname "$0")"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The end-to-end tests run the real `hubgate` binary.
cargo build --workspace --bins
cargo test --workspace
# Unmodified Kafka, AMQP and HTTP clients against the binary (installs them on first run).
tests/compat/run.sh
