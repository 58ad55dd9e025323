#!/bin/sh
# bench.sh - `make bench`: gmq, Redis and beanstalkd side by side with one
# client (gmq-bench), durable and in memory, and gmq with TLS. Each server
# gets free 127.0.0.1 ports and a fresh temporary directory and is pinned to
# one CPU (taskset -c 0), the client to another (taskset -c 1). Every cell
# is the median of BENCH_RUNS runs, the runs of the servers interleaved.
# Prints the Markdown tables of docs/benchmarks.md. Installs beanstalkd and
# redis-server (apt-get, as root) when missing. Every process it starts is
# stopped by PID, also on failure or interruption.
#
#   durable:   gmq fsync=always; Redis appendonly yes, appendfsync always;
#              beanstalkd -b DIR -f0
#   in memory: gmq fsync=no; Redis without persistence; beanstalkd without -b
#
# Environment: GMQ_BUILD (build), BENCH_MESSAGES (30000: the durable rows;
# the in-memory rows push 10 times as many, the one-connection rows a tenth),
# BENCH_MEM_MESSAGES, BENCH_LAT_MESSAGES (to set those directly),
# BENCH_SIZE (100), BENCH_CONNS (50), BENCH_PIPELINE (50: the in-memory rows),
# BENCH_RUNS (3), BENCH_TIMEOUT (seconds per run, 300), BENCH_SERVER_CPU (0),
# BENCH_CLIENT_CPU (1), BENCH_TLS (1; 0 skips the TLS rows).
set -eu

BUILD=${GMQ_BUILD:-build}
MESSAGES=${BENCH_MESSAGES:-30000}
MEM_MESSAGES=${BENCH_MEM_MESSAGES:-$((MESSAGES * 10))}
LAT_MESSAGES=${BENCH_LAT_MESSAGES:-$(( MESSAGES / 10 > 100 ? MESSAGES / 10 : 100 ))}
SIZE=${BENCH_SIZE:-100}
CONNS=${BENCH_CONNS:-50}
PIPELINE=${BENCH_PIPELINE:-50}
RUNS=${BENCH_RUNS:-3}
RUN_TIMEOUT=${BENCH_TIMEOUT:-300}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
WITH_TLS=${BENCH_TLS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$BUILD/gmq-master" ] && [ -x "$BUILD/gmq-bench" ] || die "build $BUILD/gmq-master and $BUILD/gmq-bench first (make all)"

# the peers (scripts/install-deps.sh installs them too, for the tests)
missing=""
command -v beanstalkd >/dev/null 2>&1 || missing="$missing beanstalkd"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || die "missing:$missing; run as root:  apt-get install -y$missing"
    echo "bench: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # the packages enable system services; they are not used (and not started in containers)
fi
BEANSTALKD=$(command -v beanstalkd)
REDIS=$(command -v redis-server)

# pinning: the servers on one CPU, the client on another
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    ON_SERVER="taskset -c $SERVER_CPU"
    ON_CLIENT="taskset -c $CLIENT_CPU"
    PINNED="servers on CPU $SERVER_CPU, gmq-bench on CPU $CLIENT_CPU"
else
    PINNED="nothing pinned"
    echo "bench: fewer than 2 CPUs (or no taskset): nothing is pinned" >&2
    ON_SERVER=""
    ON_CLIENT=""
fi

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
    # readiness: the port accepts a connection (beanstalkd has no ping); $2: the server's pid
    python3 - "$1" "$2" <<'EOF'
import os, socket, sys, time
end = time.time() + 10
while time.time() < end:
    if not os.path.exists("/proc/" + sys.argv[2]):
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# start <name> <port> <command...>: in the background, pinned; its pid in $TMP/<name>.pid
start() {
    name=$1; port=$2; shift 2
    # shellcheck disable=SC2086
    $ON_SERVER "$@" >"$TMP/$name.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    echo "$pid" >"$TMP/$name.pid"
    echo "$port" >"$TMP/$name.port"
    wait_tcp "$port" "$pid" || { cat "$TMP/$name.log" >&2; die "$name did not start"; }
}

# start_gmq <name> <fsync> [flags...]
start_gmq() {
    name=$1; fsync=$2; shift 2
    tcp=$(free_port); http=$(free_port)
    start "$name" "$tcp" "$BUILD/gmq-master" -tcp_addr="127.0.0.1:$tcp" -http_addr="127.0.0.1:$http" \
        -data_save_path="$TMP/$name/data" -fsync="$fsync" -log_level=1 "$@"
}

start_redis() {
    name=$1; shift
    port=$(free_port)
    mkdir -p "$TMP/$name"
    start "$name" "$port" "$REDIS" --bind 127.0.0.1 --port "$port" --dir "$TMP/$name" --save '' \
        --daemonize no "$@"
}

start_beanstalkd() {
    name=$1; shift
    port=$(free_port)
    mkdir -p "$TMP/$name"
    start "$name" "$port" "$BEANSTALKD" -l 127.0.0.1 -p "$port" "$@"
}

FAILED=0

# cpu_ns <pid>: nanoseconds the process, its threads and its children
# (gmq's master with its zygote and workers) have run so far, from each
# task's /proc/<pid>/task/<tid>/schedstat. Not utime + stime of
# /proc/<pid>/stat: those are sampled at the clock tick, and on this
# machine's kernel they showed 0.35 s of a run where the tasks had run
# 2.54 s (docs/benchmarks.md).
cpu_ns() {
    t=0
    for p in $1 $(cat "/proc/$1"/task/*/children 2>/dev/null); do
        for s in /proc/"$p"/task/*/schedstat; do
            read -r v _ <"$s" 2>/dev/null || v=0
            t=$((t + ${v:-0}))
        done
    done
    echo "$t"
}

# bench <server> <cell> <peer> <gmq-bench options...>: one run, $TMP/res/<cell>.<run>.json,
# and the server's CPU time during it in µs, $TMP/res/<cell>.<run>.cpu
bench() {
    server=$1; cell=$2; peer=$3; shift 3
    out="$TMP/res/$cell.$RUN"
    rc=0
    spid=$(cat "$TMP/$server.pid")
    c0=$(cpu_ns "$spid")
    # shellcheck disable=SC2086
    timeout "$RUN_TIMEOUT" $ON_CLIENT "$BUILD/gmq-bench" --peer "$peer" \
        --addr "127.0.0.1:$(cat "$TMP/$server.port")" -d "$SIZE" --json "$@" \
        >"$out.json" 2>"$out.err" || rc=$?
    echo $(( ($(cpu_ns "$spid") - c0) / 1000 )) >"$out.cpu"
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "bench: $cell: no result after ${RUN_TIMEOUT}s (BENCH_TIMEOUT)" >&2
        sed 's/^/bench: '"$cell"': /' "$out.err" >&2
        rm -f "$out.json"
        FAILED=1
    fi
    if ! kill -0 "$(cat "$TMP/$server.pid")" 2>/dev/null; then
        tail -20 "$TMP/$server.log" >&2
        die "$server exited during $cell"
    fi
    return 0
}

mkdir -p "$TMP/res"
echo "bench: starting the servers" >&2
start_gmq gmq-durable always
start_gmq gmq-memory no
start_redis redis-durable --appendonly yes --appendfsync always
start_redis redis-memory --appendonly no
start_beanstalkd bs-durable -b "$TMP/bs-durable" -f0
start_beanstalkd bs-memory
TLS_OPTS=""
if [ "$WITH_TLS" = 1 ]; then
    "$HERE/gen-test-certs.sh" "$TMP/certs" >/dev/null
    set -- -tcp_tls=on -tls_cert_file="$TMP/certs/chain.pem" -tls_key_file="$TMP/certs/server.key"
    start_gmq gmqtls-durable always "$@"
    start_gmq gmqtls-memory no "$@"
    TLS_OPTS="--tls --cacert $TMP/certs/ca.pem"
fi

SYSTEMS="gmq:gmq redis:redis bs:beanstalkd"
[ "$WITH_TLS" = 1 ] && SYSTEMS="$SYSTEMS gmqtls:gmq"
start_s=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
RUN=1
while [ $RUN -le "$RUNS" ]; do
    for sp in $SYSTEMS; do
        s=${sp%%:*}; peer=${sp#*:}
        tls=""
        [ "$s" = gmqtls ] && tls=$TLS_OPTS
        echo "bench: run $RUN/$RUNS: $s" >&2
        # shellcheck disable=SC2086
        bench "$s-durable" "$s-durable-drain" "$peer" $tls -t drain -c "$CONNS" -P 1 -n "$MESSAGES"
        # shellcheck disable=SC2086
        bench "$s-durable" "$s-durable-lat" "$peer" $tls -t push -c 1 -P 1 -n "$LAT_MESSAGES" --queue lat
        # shellcheck disable=SC2086
        bench "$s-memory" "$s-memory-drain" "$peer" $tls -t drain -c "$CONNS" -P "$PIPELINE" -n "$MEM_MESSAGES"
        # shellcheck disable=SC2086
        bench "$s-memory" "$s-memory-lat" "$peer" $tls -t push -c 1 -P 1 -n "$LAT_MESSAGES" --queue lat
    done
    RUN=$((RUN + 1))
done
end_s=$(date +%s)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

for name in gmq-durable gmq-memory gmqtls-durable gmqtls-memory; do
    [ -f "$TMP/$name.log" ] || continue
    if grep -q '^\[[EW]\]' "$TMP/$name.log"; then
        echo "bench: $name logged warnings or errors:" >&2
        grep '^\[[EW]\]' "$TMP/$name.log" | head -20 >&2
    fi
done

echo
runs_text="median of $RUNS runs"
[ "$RUNS" = 1 ] && runs_text="one run"
echo "$SIZE-byte bodies; $PINNED; $runs_text" \
     "($((end_s - start_s)) s); $CONNS connections: $MESSAGES messages durable, $MEM_MESSAGES in memory;" \
     "one connection: $LAT_MESSAGES pushes. Load average $load_start at the start, $load_end at the end."
echo
python3 "$HERE/bench-table.py" "$TMP/res" "$RUNS" "$CONNS" "$PIPELINE" "$WITH_TLS" "$MESSAGES" "$MEM_MESSAGES"
[ "$FAILED" = 0 ] || die "some runs failed (see above)"
