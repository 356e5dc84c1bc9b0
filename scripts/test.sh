#!/usr/bin/env bash
# One command: install what is needed (Asterisk, SIPp, sox, TTS engines, Python
# packages), then run the whole test suite. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
