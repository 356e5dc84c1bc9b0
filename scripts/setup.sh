#!/usr/bin/env bash
# Installs what Telecenter needs on a Debian 12 machine: Debian packages
# (through sudo when not root) and a Python virtual environment in .venv.
#   scripts/setup.sh          to run Telecenter
#   scripts/setup.sh --test   to run its tests too
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

sudo_if_needed bash scripts/install-system.sh "$@"
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    sudo_if_needed apt-get install -y -q python3-venv
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" = "--test" ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
else
    .venv/bin/python -m pip install -q -e .
fi
