#!/usr/bin/env bash
# One command: install what is needed, then run Telecenter on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/telecenter demo "$@"
