#!/bin/sh
# bench.sh - `make bench`: runs gmq-bench against gmq-master under each fsync
# policy and against beanstalkd (binlog with fsync on every write, binlog with
# its default fsync, in memory), each on free 127.0.0.1 ports with a fresh
# temporary data directory, and prints a Markdown table. Installs beanstalkd
# (apt-get, as root) if it is missing. Every process it starts is stopped by PID.
#
# Environment: GMQ_BUILD (build), BENCH_MESSAGES (100000), BENCH_SIZE (1024),
# BENCH_CONNS (4), BENCH_PIPELINE (32), BENCH_TIMEOUT (seconds per run, 150).
set -eu

BUILD=${GMQ_BUILD:-build}
MESSAGES=${BENCH_MESSAGES:-100000}
SIZE=${BENCH_SIZE:-1024}
CONNS=${BENCH_CONNS:-4}
PIPELINE=${BENCH_PIPELINE:-32}
RUN_TIMEOUT=${BENCH_TIMEOUT:-150}
BEANSTALKD=${BEANSTALKD:-/usr/bin/beanstalkd}

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$BUILD/gmq-master" ] && [ -x "$BUILD/gmq-bench" ] || die "build $BUILD/gmq-master and $BUILD/gmq-bench first (make all)"

# beanstalkd is only needed here, so it is not in scripts/install-deps.sh
if [ ! -x "$BEANSTALKD" ]; then
    if [ "$(id -u)" != 0 ]; then
        die "beanstalkd is missing; run as root:  apt-get install -y beanstalkd"
    fi
    echo "bench: installing beanstalkd" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends beanstalkd >/dev/null
    # the package enables a system service; it is not used (and not started in containers)
fi
[ -x "$BEANSTALKD" ] || die "no beanstalkd at $BEANSTALKD"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gmq-bench.XXXXXX")
PIDS=""

stop_pid() {
    # SIGTERM, then SIGKILL after 10 s; only processes this script started
    pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    for p in $PIDS; do stop_pid "$p"; done
    PIDS=""
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_tcp() {
    # readiness: the port accepts a connection (beanstalkd has no ping)
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    if sys.argv[2] != "" and not __import__("os").path.exists("/proc/" + sys.argv[2]):
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

hwm_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# run_bench <name> <peer> <port>: writes $TMP/<name>.json, returns gmq-bench's status
run_bench() {
    rc=0
    timeout "$RUN_TIMEOUT" "$BUILD/gmq-bench" --peer "$2" --addr "127.0.0.1:$3" --messages "$MESSAGES" \
        --size "$SIZE" --conns "$CONNS" --pipeline "$PIPELINE" --mode both --json \
        >"$TMP/$1.json" 2>"$TMP/$1.err" || rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "bench: $1: no result after ${RUN_TIMEOUT}s (BENCH_TIMEOUT)" >&2
        sed 's/^/bench: '"$1"': /' "$TMP/$1.err" >&2
        FAILED=1
    fi
    return 0
}

FAILED=0
ROWS="$TMP/rows"
: >"$ROWS"

bench_gmq() {
    policy=$1
    tcp=$(free_port); http=$(free_port)
    mkdir -p "$TMP/gmq-$policy"
    "$BUILD/gmq-master" -tcp_addr="127.0.0.1:$tcp" -http_addr="127.0.0.1:$http" \
        -data_save_path="$TMP/gmq-$policy/data" -fsync="$policy" -log_level=1 \
        >"$TMP/gmq-$policy/log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    i=0
    until curl -sf "http://127.0.0.1:$http/ping" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null || { cat "$TMP/gmq-$policy/log" >&2; die "gmq-master did not start"; }
        sleep 0.1
    done
    echo "bench: gmq fsync=$policy: $MESSAGES messages" >&2
    run_bench "gmq-$policy" gmq "$tcp"
    master=$(hwm_kib "$pid")
    workers=0
    for w in $(pgrep -P "$pid" || true); do workers=$((workers + $(hwm_kib "$w"))); done
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "bench: gmq-master fsync=$policy exited during the run" >&2
        FAILED=1
    fi
    stop_pid "$pid"
    PIDS=$(echo "$PIDS" | sed "s/ $pid\$//; s/ $pid / /")
    if grep -q '^\[[EW]\]' "$TMP/gmq-$policy/log"; then
        echo "bench: gmq fsync=$policy logged warnings or errors:" >&2
        grep '^\[[EW]\]' "$TMP/gmq-$policy/log" | head -20 >&2
    fi
    printf 'gmq\tfsync=%s\t%s\tgmq-%s\tmaster %s + worker %s\n' "$policy" "$2" "$policy" \
        "$(mib "$master")" "$(mib "$workers")" >>"$ROWS"
}

bench_beanstalkd() {
    name=$1; shift
    label=$1; shift
    port=$(free_port)
    mkdir -p "$TMP/$name/binlog"
    # "$@": the durability options; BINLOG in them is the binlog directory
    args=""
    for a in "$@"; do
        [ "$a" = BINLOG ] && a="$TMP/$name/binlog"
        args="$args $a"
    done
    # shellcheck disable=SC2086
    "$BEANSTALKD" -l 127.0.0.1 -p "$port" $args >"$TMP/$name/log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    wait_tcp "$port" "$pid" || { cat "$TMP/$name/log" >&2; die "beanstalkd did not start"; }
    echo "bench: beanstalkd$args: $MESSAGES messages" >&2
    run_bench "$name" beanstalkd "$port"
    rss=$(hwm_kib "$pid")
    stop_pid "$pid"
    PIDS=$(echo "$PIDS" | sed "s/ $pid\$//; s/ $pid / /")
    printf 'beanstalkd\t%s\t%s\t%s\t%s\n' "$(echo "$args" | sed "s| $TMP/$name/binlog| DIR|; s/^ //")" \
        "$label" "$name" "$(mib "$rss")" >>"$ROWS"
}

mib() {
    awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}

bench_gmq always "fsync before every reply (group commit per batch)"
bench_gmq everysec "fsync once a second"
bench_gmq no "page cache only, the kernel writes back"
bench_beanstalkd bs-f0 "binlog, fsync on every write" -b BINLOG -f 0
bench_beanstalkd bs-binlog "binlog, fsync at most every 50 ms (default)" -b BINLOG
bench_beanstalkd bs-mem "none (in memory)"

echo
echo "$MESSAGES messages of $SIZE bytes, $CONNS connections, pipeline $PIPELINE;" \
     "pop+ack = pop (reserve) then ack (delete) per message; latency per command."
echo
python3 - "$ROWS" "$TMP" <<'EOF'
import json, sys
rows, tmp = sys.argv[1], sys.argv[2]
print("| system | options | durability | push msgs/s | push p99 us | pop+ack msgs/s | pop+ack p99 us"
      " | errors | peak RSS (VmHWM) |")
print("|---|---|---|---:|---:|---:|---:|---:|---|")
for line in open(rows):
    system, opts, label, name, rss = line.rstrip("\n").split("\t")
    try:
        r = json.load(open(f"{tmp}/{name}.json"))
        push, pa = r["push"], r["popack"]
        cells = [f"{push['msgs_per_s']:.0f}", f"{push['p99_us']:.0f}",
                 f"{pa['msgs_per_s']:.0f}", f"{pa['p99_us']:.0f}", str(r["errors"])]
    except (OSError, ValueError, KeyError):
        cells = ["failed"] * 4 + ["-"]
    opts = f"`{opts}`" if opts else "(none)"
    print("| " + " | ".join([system, opts, label] + cells + [rss]) + " |")
EOF
[ "$FAILED" = 0 ] || die "some runs failed (see above)"
