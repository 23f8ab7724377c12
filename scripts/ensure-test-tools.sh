#!/usr/bin/env bash
# The tests start real nats-server processes (Debian's package, 2.9 or newer) and lint every
# role's /metrics with promtool and scrape a cluster with a real Prometheus (both from Debian's
# prometheus package), and run browser tests in Debian's chromium. Installs what is missing when
# this machine can (root + apt-get; no recommended packages, and the packaged Prometheus
# service is never started by the tests); otherwise says exactly what to install and fails,
# so the test run never silently skips cluster mode or the metrics lint.
set -euo pipefail
missing=()
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing+=(prometheus)
# Browser tests drive Debian's Chromium at this path (playwright-core never downloads one).
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages the tests need: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
cat >&2 <<MSG
The tests need these Debian packages, which are not installed: ${missing[*]}
Install them, then run the tests again:
  Debian/Ubuntu:  sudo apt-get install -y --no-install-recommends ${missing[*]}
  elsewhere:      nats-server 2.9+ (https://github.com/nats-io/nats-server/releases),
                  prometheus and promtool (https://prometheus.io/download/) on the PATH, and
                  Chromium at /usr/bin/chromium
MSG
exit 1
