#!/usr/bin/env bash
# System packages the test suite needs (Debian): installed only when missing, so repeated runs are fast.
set -euo pipefail
PACKAGES=()
need() { dpkg -s "$1" >/dev/null 2>&1 || PACKAGES+=("$1"); }
# (packages are added here by the features that need them)
need redis-server  # /usr/bin/redis-server: tests/test_live_redis.py, `splitbrain run redis`
need etcd-server   # /usr/bin/etcd: tests/test_live_etcd.py, `splitbrain run etcd`
need libfaketime   # libfaketime.so.1: the `clock` nemesis (tests/test_live_pysyncobj.py)
need util-linux    # /usr/bin/setpriv: servers get a parent-death signal (tests/test_live_crash.py)
need chromium      # /usr/bin/chromium: tests/test_report_browser.py (Playwright drives it; nothing is downloaded)
if [ "${#PACKAGES[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi
