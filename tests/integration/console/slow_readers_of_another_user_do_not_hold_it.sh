#!/bin/bash
# Review 3, M-1: a local user without the login secret (nobody) holds 16
# connections from the operator's own 127.0.0.1 and never reads their
# answers (a small receive buffer, requests pipelined as fast as they fit,
# 2 KB read every 0.2 s so that no connection is ever idle for the server's
# 5 s): those connections are being answered, which the guard once never
# cut. The operator's requests (root, with the session) are still answered:
# every local user is held to its own share of connections. Counted with a
# margin: on a loaded machine one may time out; before the fix none came.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login
hold_slow_readers /console.js 16 25
sleep 1  # every answer stalled in the full socket buffers

answered=0
for attempt in $(seq 5); do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        -H "Authorization: Bearer $SESSION" "$CONSOLE/api/v1/clients" || true)
    echo "operator's request $attempt: $status"
    [ "$status" = 200 ] && answered=$((answered + 1))
    sleep 0.2
done
cat "$WORK/readers.out"
echo "operator answered $answered/5 beside 16 slow readers"
[ "$answered" -ge 4 ] || fail "the operator was answered $answered/5 times beside 16 slow readers of another user"
kill "$READERS" 2>/dev/null || true
expect_no_secret_in_console_log
pass "slow readers of another local user do not keep the operator out"
