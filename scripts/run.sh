#!/usr/bin/env bash
# Set up and run Mi Talk on this machine: SQLite in ./var, nothing else to start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Listens on MITALK_HOST:MITALK_PORT (default 127.0.0.1:8000); MITALK_HOST=0.0.0.0 serves the LAN.
exec .venv/bin/mitalk serve "$@"
