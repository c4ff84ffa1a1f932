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

# As a zip: the warning in a header. (The next writer publishes first: with
# msync still failing it would refuse before changing anything.)
touch "$WORK/fail-msync"
answer=$(api POST '/api/v1/clients?format=zip' -D "$WORK/zip-headers" \
    -H 'Content-Type: application/json' -d '{"id":"sensor-2"}')
expect_eq "${answer%% *}" 201 "the zip of a generate not published"
expect_contains "$(cat "$WORK/zip-headers")" "Keyauth-Warning: the change is committed, but" \
    "the zip answer's headers"
[ "$(head -c 2 "$WORK/api-body")" = PK ] || fail "the zip answer is not a zip"
rm "$WORK/fail-msync"
keytool list >/dev/null
expect_contains "$(keytool list)" "sensor-2" "the clients once published"
pass "a generate not published answers the keys (JSON or zip) with a warning; published next, they verify"
