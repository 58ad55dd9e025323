#!/bin/sh
# bench-scale.sh - `make bench-scale`: the storage goals of a large backlog,
# each figure printed beside its target (docs/benchmarks.md, "Storage at
# scale"). One gmq-master at a time on free 127.0.0.1 ports with a fresh
# temporary data directory; every process it starts is stopped by PID.
#
#   1. disk used by a queue that holds one message
#   2. SCALE_MESSAGES (10,000,000) messages of SCALE_SIZE (100) bytes pushed:
#      the worker's anonymous memory per ready message (smaps_rollup)
#   3. restart with that backlog: first pop answered after SIGTERM, after
#      kill -9 during pushes, and (for comparison) without checkpoints
#   4. GMQ_BENCH_SCALE_BIG=1: SCALE_BIG_MESSAGES (100,000,000) on one topic:
#      pushed, restarted, drained (pop + ack), with memory and disk use
#   5. SCALE_TOPICS (10,000) topics of one message each (scripts/bench-topics.py):
#      idle PSS of all processes, and every worker serving after a restart
#   6. the push rate of SCALE_RATE_CONNS (= topics) connections spread round-robin
#      over SCALE_RATE_TOPICS (1,000) topics against the same on one topic
#
# Environment: GMQ_BUILD (build), SCALE_MESSAGES, SCALE_SIZE, SCALE_BIG_MESSAGES,
# GMQ_BENCH_SCALE_BIG, SCALE_TOPICS, SCALE_RATE_TOPICS, SCALE_RATE_MESSAGES,
# SCALE_RATE_CONNS, SCALE_FSYNC (always), SCALE_CONNS (4), SCALE_PIPELINE (64),
# TMPDIR (where the data directories go: the 100M run needs about 17 GB).
set -eu

BUILD=${GMQ_BUILD:-build}
MESSAGES=${SCALE_MESSAGES:-10000000}
SIZE=${SCALE_SIZE:-100}
BIG=${GMQ_BENCH_SCALE_BIG:-0}
BIG_MESSAGES=${SCALE_BIG_MESSAGES:-100000000}
TOPICS=${SCALE_TOPICS:-10000}
RATE_TOPICS=${SCALE_RATE_TOPICS:-1000}
RATE_MESSAGES=${SCALE_RATE_MESSAGES:-200000}
RATE_CONNS=${SCALE_RATE_CONNS:-$RATE_TOPICS}   # gmq-bench binds a connection to one topic
FSYNC=${SCALE_FSYNC:-always}
CONNS=${SCALE_CONNS:-4}
PIPELINE=${SCALE_PIPELINE:-64}

die() { echo "bench-scale: $*" >&2; exit 1; }
note() { echo "bench-scale: $*" >&2; }

[ -x "$BUILD/gmq-master" ] && [ -x "$BUILD/gmq-bench" ] || die "build $BUILD/gmq-master and $BUILD/gmq-bench first (make all)"
command -v python3 >/dev/null || die "python3 is needed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gmq-bench-scale.XXXXXX")
MASTER=""
RESULTS="$TMP/results"
: >"$RESULTS"

stop_master() {
    # $1: TERM or KILL. TERM waits for the master (it stops its workers);
    # KILL takes the worker first, by PID, then the master.
    [ -n "$MASTER" ] || return 0
    if [ "$1" = KILL ]; then
        for w in $(pgrep -P "$MASTER" || true); do kill -KILL "$w" 2>/dev/null || true; done
        kill -KILL "$MASTER" 2>/dev/null || true
    else
        kill -TERM "$MASTER" 2>/dev/null || true
        i=0
        while kill -0 "$MASTER" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$MASTER" 2>/dev/null || true
    fi
    wait "$MASTER" 2>/dev/null || true
    MASTER=""
}

cleanup() {
    stop_master KILL
    [ -n "${PUSHER:-}" ] && kill -KILL "$PUSHER" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_master <data dir>: a node, waited for until /ping answers
start_master() {
    TCP=$(free_port); HTTP=$(free_port)
    "$BUILD/gmq-master" -tcp_addr="127.0.0.1:$TCP" -http_addr="127.0.0.1:$HTTP" \
        -data_save_path="$1" -fsync="$FSYNC" -max_topics=10000 -log_level=2 >>"$TMP/log" 2>&1 &
    MASTER=$!
    i=0
    until curl -sf "http://127.0.0.1:$HTTP/ping" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 200 ] && kill -0 "$MASTER" 2>/dev/null || { tail -20 "$TMP/log" >&2; die "gmq-master did not start"; }
        sleep 0.05
    done
}

# first_pop <data dir> <topic> <bind key>: starts a node on it (on the
# ports TCP and HTTP, picked before: this runs in a subshell) and prints the
# seconds from its start to the first pop answered with a message, which it
# then acks (the node keeps running: MASTER=$(cat $TMP/pid) afterwards)
first_pop() {
    python3 - "$BUILD/gmq-master" "$1" "$TCP" "$HTTP" "$FSYNC" "$2" "$3" "$TMP/log" "$TMP/pid" <<'EOF'
import json, subprocess, sys, time, urllib.request
master, data, tcp, http, fsync, topic, bk, log, pidfile = sys.argv[1:]
t0 = time.monotonic()
p = subprocess.Popen([master, "-tcp_addr=127.0.0.1:" + tcp, "-http_addr=127.0.0.1:" + http,
                      "-data_save_path=" + data, "-fsync=" + fsync, "-log_level=2"],
                     stdout=open(log, "a"), stderr=subprocess.STDOUT)
open(pidfile, "w").write(str(p.pid))
url = "http://127.0.0.1:%s/pop?topic=%s&bindKey=%s" % (http, topic, bk)
while True:
    try:
        r = json.loads(urllib.request.urlopen(url, timeout=30).read())
        if r["code"] == 0 and r["data"]:
            break
    except OSError:
        pass
    if p.poll() is not None:
        sys.exit("gmq-master exited")
    if time.monotonic() - t0 > 600:
        sys.exit("no message after 600 s")
    time.sleep(0.001)
t = time.monotonic() - t0
ack = "http://127.0.0.1:%s/ack?topic=%s&bindKey=%s&msgId=%s" % (http, topic, bk, r["data"]["id"])
if json.loads(urllib.request.urlopen(ack, timeout=30).read())["code"] != 0:
    sys.exit("ack failed")
print("%.3f" % t)
EOF
}

# what the last recovery logged
recovery_note() {
    note "  $(grep ': recovered ' "$TMP/log" | tail -1 | sed 's/^.*queue [^ ]*: //')"
}

# worker <master pid>: its topic worker's pid
worker() {
    pgrep -P "$1" | head -1
}

# smaps <pid> <field>: kB
smaps() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"
}

# alloc_bytes <dir>: bytes allocated on disk under dir
alloc_bytes() {
    du -s -B1 "$1" | awk '{ print $1 }'
}

stat_field() {
    curl -sf "http://127.0.0.1:$HTTP/getTopicStat?topic=$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["'"$2"'"])'
}

push() {
    # push <messages> <topic>: gmq-bench, all of them acknowledged
    "$BUILD/gmq-bench" --addr "127.0.0.1:$TCP" --topic "$2" --queue q --messages "$1" \
        --size "$SIZE" --conns "$CONNS" --pipeline "$PIPELINE" --workload push --json >"$TMP/push.json" \
        2>"$TMP/push.err" || { cat "$TMP/push.err" >&2; die "push failed"; }
    python3 -c 'import json, sys; r = [p for p in json.load(open(sys.argv[1]))["phases"] if p["phase"] == "push"][0]; print("%.0f msgs/s" % r["rate"])' "$TMP/push.json"
}

# result <what> <figure> <target> <ok: 1/0>
result() {
    printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$([ "$4" = 1 ] && echo met || echo "NOT met")" >>"$RESULTS"
    printf '%-58s %-28s target %s\n' "$1" "$2" "$3" >&2
}

le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

note "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), fsync=$FSYNC"

# ---- 1. one message ----
D1="$TMP/one"
start_master "$D1"
curl -sf "http://127.0.0.1:$HTTP/push" --data-urlencode 'data={"topic":"one","body":"x","route_key":""}' >/dev/null
stop_master TERM
b=$(alloc_bytes "$D1/one/q/default")
result "disk of a queue holding one message" "$(awk -v b="$b" 'BEGIN { printf "%.0f KiB", b / 1024 }')" "<= 1 MiB" \
    "$(le "$b" 1048576 && echo 1 || echo 0)"

# ---- 2. memory per ready message ----
D2="$TMP/scale"
start_master "$D2"
curl -sf "http://127.0.0.1:$HTTP/declareQueue?topic=bench&bindKey=q" >/dev/null
w=$(worker "$MASTER")
base=$(smaps "$w" Anonymous)
note "pushing $MESSAGES messages of $SIZE bytes"
rate=$(push "$MESSAGES" bench)
w=$(worker "$MASTER")
anon=$(smaps "$w" Anonymous); pss=$(smaps "$w" Pss); pss_anon=$(smaps "$w" Pss_Anon)
ready=$(stat_field bench queue_msg_num)
[ "$ready" = "$MESSAGES" ] || die "$ready messages ready, $MESSAGES pushed"
per=$(awk -v a="$anon" -v n="$MESSAGES" 'BEGIN { printf "%.2f", a * 1024 / n }')
result "anonymous memory per ready message ($MESSAGES x $SIZE B)" "$per B" "<= 32 B" "$(le "$per" 32 && echo 1 || echo 0)"
note "  worker: Anonymous $anon kB (empty topic: $base kB), Pss_Anon $pss_anon kB, Pss $pss kB (the rest is page cache of the segments); push $rate"
note "  disk: $(du -sh "$D2/bench" | cut -f1)"

# ---- 3. restart ----
stop_master TERM
TCP=$(free_port); HTTP=$(free_port); t=$(first_pop "$D2" bench q); MASTER=$(cat "$TMP/pid")
recovery_note
result "first pop after SIGTERM, $MESSAGES ready" "$t s" "<= 1 s" "$(le "$t" 1 && echo 1 || echo 0)"
# kill -9 while pushes go on, just before the next checkpoint is due (0.9 s
# after one was written): the most records to read after it
"$BUILD/gmq-bench" --addr "127.0.0.1:$TCP" --topic bench --queue q --messages 5000000 --size "$SIZE" \
    --conns "$CONNS" --pipeline "$PIPELINE" --workload push >/dev/null 2>&1 &
PUSHER=$!
sleep 2
ck="$D2/bench/q/q/checkpoint"
m0=$(stat -c %.9Y "$ck")
i=0
while [ "$(stat -c %.9Y "$ck")" = "$m0" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
sleep 0.9
stop_master KILL
kill -KILL "$PUSHER" 2>/dev/null || true
wait "$PUSHER" 2>/dev/null || true
PUSHER=""
TCP=$(free_port); HTTP=$(free_port); t=$(first_pop "$D2" bench q); MASTER=$(cat "$TMP/pid")
recovery_note
ready=$(stat_field bench queue_msg_num)
result "first pop after kill -9 during pushes, $ready ready" "$t s" "<= 1 s" "$(le "$t" 1 && echo 1 || echo 0)"
stop_master TERM
find "$D2" -name checkpoint -delete
TCP=$(free_port); HTTP=$(free_port); t=$(first_pop "$D2" bench q); MASTER=$(cat "$TMP/pid")
recovery_note
note "  for comparison, without checkpoints (a scan of the whole log): first pop after $t s"
stop_master TERM
rm -rf "$D2"

# ---- 4. 100M (GMQ_BENCH_SCALE_BIG=1) ----
if [ "$BIG" = 1 ]; then
    D4="$TMP/big"
    start_master "$D4"
    curl -sf "http://127.0.0.1:$HTTP/declareQueue?topic=big&bindKey=q" >/dev/null
    note "pushing $BIG_MESSAGES messages of $SIZE bytes"
    t0=$(date +%s)
    rate=$(push "$BIG_MESSAGES" big)
    t1=$(date +%s)
    w=$(worker "$MASTER")
    anon=$(smaps "$w" Anonymous)
    ready=$(stat_field big queue_msg_num)
    disk=$(alloc_bytes "$D4/big")
    result "$BIG_MESSAGES x $SIZE B on one topic: accepted" "$ready ready, $(awk -v b="$disk" 'BEGIN { printf "%.1f GB", b / 1e9 }') on disk, $((t1 - t0)) s ($rate)" \
        "all of them" "$([ "$ready" = "$BIG_MESSAGES" ] && echo 1 || echo 0)"
    per=$(awk -v a="$anon" -v n="$BIG_MESSAGES" 'BEGIN { printf "%.3f", a * 1024 / n }')
    result "anonymous memory per ready message ($BIG_MESSAGES)" "$per B ($anon kB)" "<= 32 B" "$(le "$per" 32 && echo 1 || echo 0)"
    stop_master TERM
    TCP=$(free_port); HTTP=$(free_port); t=$(first_pop "$D4" big q); MASTER=$(cat "$TMP/pid")
    recovery_note
    result "first pop after SIGTERM, $BIG_MESSAGES ready" "$t s" "<= 1 s" "$(le "$t" 1 && echo 1 || echo 0)"
    note "draining (pop + ack)"
    t0=$(date +%s)
    "$BUILD/gmq-bench" --addr "127.0.0.1:$TCP" --topic big --queue q --messages "$((BIG_MESSAGES - 1))" \
        --conns "$CONNS" --pipeline "$PIPELINE" --workload popack --json >"$TMP/drain.json" 2>"$TMP/drain.err" ||
        { cat "$TMP/drain.err" >&2; die "drain failed"; }
    t1=$(date +%s)
    w=$(worker "$MASTER")
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$w/status")
    anon=$(smaps "$w" Anonymous)
    left=$(stat_field big queue_msg_num); inflight=$(stat_field big wait_ack_num)
    drate=$(python3 -c 'import json, sys; print("%.0f" % [p for p in json.load(open(sys.argv[1]))["phases"] if p["phase"] == "popack"][0]["rate"])' "$TMP/drain.json")
    disk=$(alloc_bytes "$D4/big")
    result "... survives the restart and is drained" "$left ready, $inflight in flight after $((t1 - t0)) s ($drate msgs/s)" \
        "0 left" "$([ "$left" = 0 ] && [ "$inflight" = 0 ] && echo 1 || echo 0)"
    note "  worker after it: Anonymous $anon kB, peak RSS (VmHWM, mapped pages of the segments included) $hwm kB; disk after: $(awk -v b="$disk" 'BEGIN { printf "%.1f MB", b / 1e6 }')"
    stop_master TERM
else
    note "the $BIG_MESSAGES-message run is skipped (GMQ_BENCH_SCALE_BIG=1 runs it)"
fi

# ---- 5. many topics ----
note "$TOPICS topics with one message each: idle memory, restart"
D5="$TMP/topics"
mkdir -p "$D5"
python3 "$(dirname "$0")/bench-topics.py" "$BUILD" "$D5/data" "$TOPICS" >"$TMP/topics.json" ||
    die "bench-topics.py failed"
eval "$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print("ts=%s pss=%d ping=%s" % (r["restart_all_serving_s"], max(r["idle_pss_kb"], r["idle_pss_after_restart_kb"]), r["restart_ping_s"]))' "$TMP/topics.json")"
result "$TOPICS topics: every worker serving after a restart" "$ts s (the node answers /ping after $ping s)" "<= 10 s" \
    "$(le "$ts" 10 && echo 1 || echo 0)"
result "$TOPICS idle topics: PSS of all processes" "$(awk -v k="$pss" 'BEGIN { printf "%.2f GiB", k / 1048576 }')" "<= 2 GiB" \
    "$(le "$pss" 2097152 && echo 1 || echo 0)"
rm -rf "$D5"

# ---- 6. pushes spread over many topics ----
note "push rate: $RATE_MESSAGES pushes from $RATE_CONNS connections on one topic, then over $RATE_TOPICS topics"
rate_push() {
    # rate_push <data dir> <topics>: msgs/s of a push run on a fresh node
    start_master "$1"
    "$BUILD/gmq-bench" --addr "127.0.0.1:$TCP" --topic spread --workload push -n "$RATE_MESSAGES" \
        -c "$RATE_CONNS" -d "$SIZE" --topics "$2" --json >"$TMP/rate.json" 2>"$TMP/rate.err" ||
        { cat "$TMP/rate.err" >&2; die "push over $2 topics failed"; }
    stop_master TERM
    python3 -c 'import json, sys; print("%.0f" % [p for p in json.load(open(sys.argv[1]))["phases"] if p["phase"] == "push"][0]["rate"])' "$TMP/rate.json"
}
r1=$(rate_push "$TMP/rate1" 1)
rn=$(rate_push "$TMP/raten" "$RATE_TOPICS")
ratio=$(awk -v a="$rn" -v b="$r1" 'BEGIN { printf "%.2f", a / b }')
result "pushes over $RATE_TOPICS topics / one topic ($RATE_CONNS connections)" "$ratio ($rn vs $r1 msgs/s)" ">= 0.90" \
    "$(awk -v r="$ratio" 'BEGIN { exit !(r >= 0.9) }' && echo 1 || echo 0)"
rm -rf "$TMP/rate1" "$TMP/raten"

if grep -q '^\[E\]' "$TMP/log"; then
    note "errors logged:"
    grep '^\[E\]' "$TMP/log" | head -20 >&2
fi
echo
echo "| goal | figure | target | |"
echo "|---|---|---|---|"
cat "$RESULTS"
