#!/bin/bash
# Review 5, M-1: the kernel names a loopback peer's user only when asked on
# lo's index; a socket any user tied to lo (SO_BINDTODEVICE) was not found,
# and its connection was counted by its address instead, a fresh 16 for
# each of 127/8's addresses. A local user without the login secret (nobody)
# opens 256 such connections from 16 addresses and pipelines small requests
# into them, reading just enough that each answer ends within 2 s (never a
# slow reader to cut). The operator (root, with the session) is answered
# and nobody keeps its own 16 connections only. Counted with a margin: on a
# loaded machine one request may time out; before the fix none came.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login
hold_slow_readers /none 256 20 16
sleep 3  # the guard has cut what is over nobody's share

answered=0
for attempt in $(seq 5); do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        -H "Authorization: Bearer $SESSION" "$CONSOLE/api/v1/clients" || true)
    echo "operator's request $attempt: $status"
    [ "$status" = 200 ] && answered=$((answered + 1))
    sleep 0.2
done
cat "$WORK/readers.out"
held=$(grep 'still held' "$WORK/readers.out" | tail -n 1 | awk '{print $NF}')
echo "operator answered $answered/5 beside 256 connections tied to lo; nobody still holds ${held:-?}"
[ "$answered" -ge 4 ] || fail "the operator was answered $answered/5 times beside connections tied to lo"
[ "${held:-999}" -le 16 ] || fail "nobody still holds $held connections tied to lo, over its 16"
kill "$READERS" 2>/dev/null || true
expect_no_secret_in_console_log
pass "connections another user tied to lo count as that user's"
