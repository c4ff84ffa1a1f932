#!/bin/bash
# keytool and the console writing at the same time lose nothing: every client
# either made is listed, and deletions from both sides all land; pages and the
# calendar read meanwhile always answer.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login
N=30

for i in $(seq $N); do keytool gen "cli$i" --output "$WORK/" >/dev/null; done &
cli=$!
# A reader of pages all along (it stops when keytool is done).
(
    while kill -0 "$cli" 2>/dev/null; do
        for path in '/api/v1/clients?sort=-expire&limit=5' '/api/v1/expiry-calendar' '/api/v1/clients?q=cli'; do
            s=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SESSION" "$CONSOLE$path")
            [ "$s" = 200 ] || echo "GET $path: $s" >>"$WORK/read-failures"
            echo >>"$WORK/reads"
        done
    done
) &
reader=$!
for i in $(seq $N); do
    s=$(api POST /api/v1/clients -H 'Content-Type: application/json' -d "{\"id\":\"web$i\"}")
    [ "${s%% *}" = 201 ] || echo "web$i: $s" >>"$WORK/web-failures"
done
wait "$cli" || fail "keytool gen failed"
wait "$reader"
[ ! -s "$WORK/web-failures" ] || fail "console POSTs failed: $(cat "$WORK/web-failures")"
[ ! -s "$WORK/read-failures" ] || fail "reads failed during writes: $(cat "$WORK/read-failures")"
[ "$(wc -l <"$WORK/reads")" -gt 3 ] || fail "too few reads during the writes"
expect_eq "$(keytool list --json | grep -c '"id"')" $((2 * N)) "clients after concurrent gen"
expect_contains "$(api GET /api/v1/clients?limit=1)" "\"total\":$((2 * N))" "the console's count"

for i in $(seq 2 2 $N); do keytool del "web$i" >/dev/null; done &
cli=$!
for i in $(seq 2 2 $N); do
    s=$(api DELETE "/api/v1/clients/cli$i")
    [ "${s%% *}" = 200 ] || echo "cli$i: $s" >>"$WORK/web-failures"
done
wait "$cli" || fail "keytool del failed"
[ ! -s "$WORK/web-failures" ] || fail "console DELETEs failed: $(cat "$WORK/web-failures")"
expect_eq "$(keytool list --json | grep -c '"id"')" "$N" "clients after concurrent del"
keytool list >"$WORK/list"
for i in $(seq 1 2 $N); do
    grep -q " cli$i " "$WORK/list" || fail "cli$i lost"
    grep -q " web$i " "$WORK/list" || fail "web$i lost"
done
expect_no_secret_in_console_log
pass "concurrent changes from keytool and the console all land"
