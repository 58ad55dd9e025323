#!/bin/sh
# Line coverage reached by the fuzz corpora (docs/reliability.md): runs each
# target built with clang's source-based coverage (make fuzz-cov builds them
# into build-fuzzcov/) once over its corpus (build-fuzz/corpus/<target>/ and
# the seeds), then prints llvm-cov's report for the files the target is for.
#   usage: scripts/fuzz-cov.sh TARGET...
set -u
B=build-fuzzcov
PROFDATA=$(command -v llvm-profdata || command -v llvm-profdata-14)
COV=$(command -v llvm-cov || command -v llvm-cov-14)
mkdir -p "$B/prof"
rc=0
for t in "$@"; do
    case $t in
        tcp)     files="proto/tcp.c" ;;
        op)      files="proto/op.c proto/ipc.c" ;;
        http)    files="master/http.c master/api.c master/ops.c master/web.c" ;;
        tcpconn) files="master/tcp.c master/tcp_mpub.c master/ops.c master/chan.c" ;;
        record)  files="worker/record.c" ;;
        segment) files="worker/segment.c worker/queue.c worker/queue_replay.c worker/queue_log.c worker/topic.c" ;;
        config)  files="common/config.c" ;;
        etcd)    files="common/etcdapi.c client/discovery.c" ;;
        *)       files="" ;;
    esac
    rm -f "$B/prof/$t.profraw"
    mkdir -p "build-fuzz/corpus/$t"
    LLVM_PROFILE_FILE="$B/prof/$t.profraw" "$B/fuzz/fuzz_$t" -runs=0 \
        "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "$B/prof/$t.log" 2>&1 || rc=1
    "$PROFDATA" merge -sparse -o "$B/prof/$t.profdata" "$B/prof/$t.profraw" || rc=1
    echo "== $t ($(find "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" -type f | wc -l) inputs)"
    # shellcheck disable=SC2086
    "$COV" report "$B/fuzz/fuzz_$t" -instr-profile="$B/prof/$t.profdata" $files | \
        sed -e "s|^$PWD/||" -e 's/   */  /g' | awk 'NR == 1 || /\.c / || /^TOTAL/'
done
exit $rc
