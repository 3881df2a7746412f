#!/usr/bin/env bash
# Install what Mi Talk needs on a Debian machine (as root) into ./.venv.
#   scripts/setup.sh          the service
#   scripts/setup.sh --test   the service, the test tools, PostgreSQL and Redis
#   scripts/setup.sh --bench  all of --test, and what bench/ needs (matplotlib, wrk, Go and
#                             Debian's pion/webrtc for the listener swarm, bench/_swarm.py)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_bench=0
[ "${1:-}" = "--test" ] && want_test=1
[ "${1:-}" = "--bench" ] && want_test=1 && want_bench=1

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python_ok() {
  command -v python3 >/dev/null 2>&1 &&
    python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}
if ! python_ok; then
  apt_install python3 python3-venv python3-dev gcc
fi
python_ok || { echo "setup: Python 3.11 or newer with venv is required" >&2; exit 1; }

# The media server the service supervises, and setpriv so it dies with the service.
command -v janus >/dev/null 2>&1 || apt_install janus
# The TURN server `mitalk serve` supervises with MITALK_TURN=managed. Debian enables its own
# coturn service on install (stock config, ports 3478/5349 on every address): when this
# script installs the package, that service is stopped and disabled, since Mi Talk runs its own.
if ! command -v turnserver >/dev/null 2>&1; then
  apt_install coturn
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
fi
# The TLS front `mitalk serve` runs for an https MITALK_PUBLIC_URL. Debian's package enables a
# caddy service serving port 80; stopped and disabled the same way: Mi Talk runs its own.
if ! command -v caddy >/dev/null 2>&1; then
  apt_install caddy
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl disable --now caddy >/dev/null 2>&1 || true
  fi
fi
command -v setpriv >/dev/null 2>&1 || apt_install util-linux

if [ $want_test -eq 1 ]; then
  # The media tests' private networks: namespaces (iproute2), NAT and firewalls (nftables, also
  # the trickle test's), per-namespace forwarding (procps' sysctl).
  apt_install iproute2 nftables procps
  # certutil: the browser tests' trust of the test CA (an NSS database in a temporary HOME);
  # faketime: the doctor's clock-skew test.
  apt_install libnss3-tools faketime
  command -v psql >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if [ $want_bench -eq 1 ]; then
  # The listener swarm is built offline from Debian's Go packages (GOPATH mode, no proxy).
  apt_install wrk golang-go golang-github-pion-webrtc.v3-dev
fi

extras=""
[ $want_test -eq 1 ] && extras="[test]"
[ $want_bench -eq 1 ] && extras="[test,bench]"
stamp=".venv/.installed$extras"
fresh() { [ -f "$1" ] && [ "$1" -nt pyproject.toml ]; }
# An install with the test extras also serves the plain one (and one with bench extras both).
if ! fresh "$stamp" && ! fresh ".venv/.installed[test,bench]" &&
    { [ $want_bench -eq 1 ] || ! fresh ".venv/.installed[test]"; }; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".$extras"
  touch "$stamp"
fi

# The web client: built with Node.js (20 or newer) into web/dist, which `mitalk serve` serves at /.
node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'
}
node_ok || apt_install nodejs
node_ok || apt_install npm
node_ok || { echo "setup: Node.js 20 or newer with npm is required to build the web client" >&2; exit 1; }
# The browser tests drive Debian's Chromium (never a downloaded one).
if [ $want_test -eq 1 ]; then
  command -v chromium >/dev/null 2>&1 || apt_install chromium
  # Chinese screens in the test run's screenshots need a CJK font (phones bring their own).
  apt_install fonts-noto-cjk
fi
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  echo "setup: installing the web client's npm packages"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
# Rebuild when the client or the API it is generated from changed since the last build.
built=web/dist/index.html
if [ ! -f "$built" ] || [ -n "$(find web src/mitalk -newer "$built" -type f \
    -not -path 'web/node_modules/*' -not -path 'web/dist/*' -not -path 'web/generated/*' \
    -not -path 'web/test-results/*' -not -name '*.pyc' -print -quit)" ]; then
  echo "setup: building the web client"
  .venv/bin/mitalk schemas --out web/generated >/dev/null
  (cd web && npm run build --silent)
fi
