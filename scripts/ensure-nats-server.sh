#!/usr/bin/env bash
# The cluster tests start real nats-server processes (Debian's package, 2.9 or newer).
# Installs it when it is missing and this machine can (root + apt-get); otherwise says
# exactly what to install and fails, so the test run never silently skips cluster mode.
set -euo pipefail
if command -v nats-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "nats-server not found: installing Debian's nats-server package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
nats-server is required by the tests and is not installed.
Install it, then run the tests again:
  Debian/Ubuntu:  sudo apt-get install -y nats-server
  elsewhere:      a nats-server 2.9+ binary on the PATH (https://github.com/nats-io/nats-server/releases)
MSG
exit 1
