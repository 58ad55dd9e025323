#!/bin/sh
# Runs every Check unit-test binary given and fails if any fails.
rc=0
for t in "$@"; do
    "$t" || rc=1
done
exit $rc
