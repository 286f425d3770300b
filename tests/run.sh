#!/usr/bin/env bash
# Install what the tests need on a fresh machine, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[test]'
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's Chromium; Playwright's own browser download is not used.
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x /usr/bin/firefox-esr ]; then
  # The second engine: Debian's Firefox ESR, driven through Marionette (tests/firefox.py).
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq firefox-esr >/dev/null
fi
if ! command -v redis-server >/dev/null; then
  # The Redis router's tests start their own redis-server (tests/redis_server.py); never a service.
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  # The PostgreSQL store's tests start their own cluster with initdb/pg_ctl as an
  # unprivileged user (tests/postgres_server.py); never the system service.
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
if ! command -v turnserver >/dev/null; then
  # The TURN tests start their own coturn on 127.0.0.1 (tests/coturn_server.py).
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coturn >/dev/null
fi
if ! command -v ip >/dev/null; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iproute2 >/dev/null
fi
# The pose model the browser measures with (server/measure/vendor.py): pinned packages from
# the npm registry, fetched once before the network goes away below.
"$PYTHON" run.py fetch-pose-model >/dev/null
# The tests need no network: where the kernel allows, they run in a network namespace of
# their own with only the loopback interface, so every peer (aiortc and Chromium) meets on
# 127.0.0.1 and nothing can leave the machine.
if unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec "$0" -m pytest "$@"' "$PYTHON" "$@"
fi
exec "$PYTHON" -m pytest "$@"
