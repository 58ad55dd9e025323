#!/bin/sh
# Runs libFuzzer targets built by `make fuzz-build`, one after the other,
# each for SECONDS under nice -n 19, and prints one line per target with
# the coverage reached (libFuzzer's cov: and ft:). Seeds come from
# tests/fuzz/corpus/<target>/ (read only); new inputs are kept in
# $FUZZ_BUILD/corpus/<target>/, crashes in $FUZZ_BUILD/crashes/<target>/,
# the whole output in $FUZZ_BUILD/logs/<target>.log. No network is used.
# Fails if a target crashed (or found a leak, a timeout, an out-of-memory).
#   usage: scripts/fuzz.sh SECONDS TARGET...
set -u
secs=$1
shift
B=${FUZZ_BUILD:-build-fuzz}
rc=0
for t in "$@"; do
    bin=$B/fuzz/fuzz_$t
    seeds=tests/fuzz/corpus/$t
    work=$B/corpus/$t
    crashes=$B/crashes/$t
    log=$B/logs/$t.log
    mkdir -p "$work" "$crashes" "$B/logs" "$seeds"
    # inputs as large as the target needs: whole segment files, pipelined requests
    case $t in
        segment) max_len=65536 ;;
        http|tcpconn|tcp) max_len=16384 ;;
        *) max_len=4096 ;;
    esac
    opts="-max_total_time=$secs -timeout=10 -rss_limit_mb=2048 -max_len=$max_len"
    opts="$opts -print_final_stats=1 -artifact_prefix=$crashes/"
    [ -f "tests/fuzz/$t.dict" ] && opts="$opts -dict=tests/fuzz/$t.dict"
    start=$(date +%s)
    # shellcheck disable=SC2086
    nice -n 19 "$bin" $opts "$work" "$seeds" > "$log" 2>&1
    st=$?
    took=$(( $(date +%s) - start ))
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^#\([0-9]*\)[[:space:]]*[A-Z]*[[:space:]]*/\1 runs /')
    echo "fuzz $t: ${took}s: ${last:-no progress line}"
    if [ $st -ne 0 ]; then
        echo "fuzz $t: FAILED (exit $st): $log, $crashes/" >&2
        tail -n 60 "$log" >&2
        rc=1
    fi
done
exit $rc
