#!/usr/bin/env bash
# Set up and run every test: SQLite and PostgreSQL, Redis, real HTTP. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
eval "$(bash scripts/services.sh)"
echo "== type check (mypy, src/)"
.venv/bin/mypy
echo "== lint (ruff: src, tests, bench)"
.venv/bin/ruff check src tests bench
echo "== web client unit tests (vitest)"
(cd web && npm test --silent)
echo "== tests"
exec .venv/bin/pytest "$@"
