#!/usr/bin/env bash
# Installs the real clients the compatibility suite uses: Python packages into ./.venv, npm
# packages into tests/compat/node/node_modules, and kcat from Debian. Idempotent: each step is
# skipped when what it installs is already there and its pinned list did not change.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
compat="$root/tests/compat"
venv="$root/.venv"

stamp_ok() { [[ -f "$2" ]] && cmp -s "$1" "$2"; }

# Debian packages: kcat, Node.js when the machine has none, and Chromium for the console's
# browser tests (driven by playwright-core, which never downloads a browser of its own).
need=()
command -v kcat >/dev/null || need+=(kcat)
command -v npm >/dev/null || need+=(nodejs npm)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
if ((${#need[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
if ! stamp_ok "$compat/requirements.txt" "$venv/.requirements.txt"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$compat/requirements.txt"
    cp "$compat/requirements.txt" "$venv/.requirements.txt"
fi

if [[ -f "$compat/node/package-lock.json" ]] &&
    ! stamp_ok "$compat/node/package-lock.json" "$compat/node/node_modules/.hubgate-lock.json"; then
    npm ci --prefix "$compat/node" --no-audit --no-fund --loglevel=error
    cp "$compat/node/package-lock.json" "$compat/node/node_modules/.hubgate-lock.json"
fi

