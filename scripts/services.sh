#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis the tests use are running on loopback (start them if not),
# and that the test role and database exist. Prints the URLs as shell exports.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
wait_for() { # name, seconds, command...
  local name=$1 seconds=$2; shift 2
  for _ in $(seq 1 $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "services: $name did not start within ${seconds}s" >&2; return 1
}

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "services: starting PostgreSQL" >&2
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "services: no PostgreSQL cluster found; install postgresql" >&2; exit 1; }
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
    as_root pg_ctlcluster "$version" main start
  wait_for PostgreSQL 30 pg_isready -q -h 127.0.0.1 -p 5432
fi
psql_admin() { as_root su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -c \"$1\""; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='mitalk'")" != "1" ]; then
  psql_admin "CREATE ROLE mitalk LOGIN PASSWORD 'mitalk'"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='mitalk_test'")" != "1" ]; then
  psql_admin "CREATE DATABASE mitalk_test OWNER mitalk"
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "services: starting Redis" >&2
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --logfile /tmp/mitalk-test-redis.log
  wait_for Redis 15 redis-cli -h 127.0.0.1 -p 6379 ping
fi

echo "export MITALK_TEST_POSTGRES_URL=\${MITALK_TEST_POSTGRES_URL:-postgresql+asyncpg://mitalk:mitalk@127.0.0.1:5432/mitalk_test}"
echo "export MITALK_TEST_REDIS_URL=\${MITALK_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
