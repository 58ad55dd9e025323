#!/bin/sh
# Runs libFuzzer targets built by `make fuzz-build`, one after the other,
# each for SECONDS under nice -n 19, and prints one line per target with
# the coverage reached (libFuzzer's cov: and ft:). Seeds come from
# tests/fuzz/corpus/<target>/ (read only); new inputs are kept in
# $FUZZ_BUILD/corpus/<target>/, crashes in $FUZZ_BUILD/crashes/<target>/,
# the whole output in $FUZZ_BUILD/logs/<target>.log, and each run's time
# is appended to $FUZZ_BUILD/fuzz-time.tsv (date, target, seconds, runs,
# cov, ft, exit status, CPU seconds: the ledger docs/reliability.md's table
# sums). The CPU seconds are the fuzzer's own (user + system), so a run
# that shared its core with other work is counted for what it got.
# With FUZZ_SMOKE=1 (make fuzz-smoke, in make test) a run starts from the
# seeds alone in $FUZZ_BUILD/smoke/ (emptied first) and is not entered in
# the ledger, so it leaves neither the tree nor the long runs' corpus
# changed. No network is used.
# Fails if a target crashed (or found a leak, a timeout, an out-of-memory).
#   usage: scripts/fuzz.sh SECONDS TARGET...
set -u
secs=$1
shift
B=${FUZZ_BUILD:-build-fuzz}
smoke=${FUZZ_SMOKE:-0}
W=$B
if [ "$smoke" = 1 ]; then
    W=$B/smoke
    rm -rf "$W"
fi
# CPU ticks (user + system) of this shell's waited-for children: fields
# cutime and cstime of /proc/self/stat, counted after the ") " of comm
cpu_ticks() {
    sed 's/.*) //' /proc/$$/stat | awk '{ print $14 + $15 }'
}
tck=$(getconf CLK_TCK)
rc=0
for t in "$@"; do
    bin=$B/fuzz/fuzz_$t
    seeds=tests/fuzz/corpus/$t
    work=$W/corpus/$t
    crashes=$W/crashes/$t
    log=$W/logs/$t.log
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        echo "fuzz $t: no $bin or no $seeds (make fuzz-build)" >&2
        rc=1
        continue
    fi
    mkdir -p "$work" "$crashes" "$W/logs"
    # inputs as large as the target needs: whole segment files, pipelined requests
    case $t in
        segment) max_len=65536 ;;
        http|tcpconn|tcp) max_len=16384 ;;
        *) max_len=4096 ;;
    esac
    opts="-max_total_time=$secs -timeout=10 -rss_limit_mb=2048 -max_len=$max_len"
    opts="$opts -print_final_stats=1 -artifact_prefix=$crashes/"
    [ -f "tests/fuzz/$t.dict" ] && opts="$opts -dict=tests/fuzz/$t.dict"
    # the smoke is the same every time (make test must not fail by chance):
    # a fixed seed and a fixed number of inputs, the time only as a cap
    [ "$smoke" = 1 ] && opts="$opts -seed=${FUZZ_SMOKE_SEED:-1} -runs=${FUZZ_SMOKE_RUNS:-10000}"
    start=$(date +%s)
    cpu0=$(cpu_ticks)
    # leaks are errors (LeakSanitizer at the end of each input, libFuzzer's
    # -detect_leaks, on by default); UBSan stops at its first report
    # shellcheck disable=SC2086
    ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        nice -n 19 "$bin" $opts "$work" "$seeds" > "$log" 2>&1
    st=$?
    took=$(( $(date +%s) - start ))
    cpu=$(( ($(cpu_ticks) - cpu0) / tck ))
    line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    last=$(echo "$line" | sed 's/^#\([0-9]*\)[[:space:]]*[A-Z]*[[:space:]]*/\1 runs /')
    echo "fuzz $t: ${took}s (CPU ${cpu}s): ${last:-no progress line}"
    if [ "$smoke" != 1 ]; then
        runs=$(echo "$line" | sed -n 's/^#\([0-9]*\).*/\1/p')
        cov=$(echo "$line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
        ft=$(echo "$line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$took" \
            "${runs:-0}" "${cov:-}" "${ft:-}" "$st" "$cpu" >> "$B/fuzz-time.tsv"
    fi
    if [ $st -ne 0 ]; then
        echo "fuzz $t: FAILED (exit $st): $log, $crashes/" >&2
        tail -n 60 "$log" >&2
        rc=1
    fi
done
exit $rc
