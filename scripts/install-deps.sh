#!/bin/sh
# Installs, with apt-get, only the Debian packages gmq needs that are missing.
# systemd (systemd-analyze), man-db and the Debian packaging tools are for
# the packaging tests (make install, make deb); prometheus for promtool,
# which checks the /metrics output; beanstalkd and redis-server are the
# peers of the benchmark (make bench) and of its test (test_bench.py), and
# util-linux has taskset, which pins them (their packages enable system
# services that gmq never uses; containers do not start them); chromium is
# for the browser test of the web admin page, driven by playwright-core from
# npm (installed with `npm ci` in tests/browser when missing or when its lock
# file changed). clang, libclang-rt-14-dev (libFuzzer's and the sanitizers'
# runtimes for clang 14) and llvm (llvm-profdata, llvm-cov) build and measure
# the fuzz targets (make fuzz-build, fuzz-smoke, fuzz-cov).
# Idempotent; without root it prints what to install and exits 1.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config libev-dev libssl-dev libcurl4-openssl-dev libyajl-dev
libconfuse-dev check libpcre2-dev zlib1g-dev libhttp-parser-dev
etcd-server etcd-client curl openssl python3 procps prometheus beanstalkd redis-server util-linux
systemd man-db debhelper dpkg-dev fakeroot lintian
chromium clang libclang-rt-14-dev llvm"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "gmq: missing Debian packages:$missing" >&2
        echo "gmq: run as root:  apt-get install -y$missing" >&2
        exit 1
    fi
    echo "gmq: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# the browser test's driver (test tooling only: it downloads no browser)
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.gmq-lock
if ! cmp -s "$lock" "$stamp" 2>/dev/null; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "gmq: npm not found: the browser test (tests/browser) needs Node.js >= 20 with npm" >&2
        exit 0
    fi
    echo "gmq: npm ci in tests/browser" >&2
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$lock" "$stamp"
fi
