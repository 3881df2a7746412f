#!/usr/bin/env bash
# Set up and run Mi Talk on this machine: SQLite in ./var, nothing else to start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mitalk serve --host "${MITALK_HOST:-0.0.0.0}" --port "${MITALK_PORT:-8000}" "$@"
