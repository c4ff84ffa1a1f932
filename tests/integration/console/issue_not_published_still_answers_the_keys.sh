#!/bin/bash
# A generate whose publication fails after LMDB committed (lookup.idx's
# msync: an I/O error) registered the client: the one-time answer is the
# keys' only copy, so it is given (201) with a warning saying the change is
# committed; the next writer publishes it and the token then verifies. It
# used to answer 500 and drop the keys. An LD_PRELOAD shim fails msync.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
shim=$(failing_msync_shim)
LD_PRELOAD="$shim" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    start_console
console_login

touch "$WORK/fail-msync"
create_client sensor-1
expect_contains "$(cat "$WORK/sensor-1.json")" \
    '"warning":"the change is committed, but the servers still answer as before it' \
    "the answer of a generate not published"
rm "$WORK/fail-msync"
keytool list >/dev/null
expect_contains "$(keytool verify "$(cat sensor-1_token)" || true)" "valid: client sensor-1" \
    "the answered token once published"
pass "a generate not published answers the keys with a warning; published next, they verify"
