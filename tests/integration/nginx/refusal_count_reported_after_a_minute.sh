#!/bin/bash
# The refusals counted quietly are reported once their minute is over, from
# a timer in the worker, even when the device has stopped: one line with
# the count. (Waits a minute.)
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen looper --output ./looper >/dev/null
NGX_WORKERS=1 start_protected_proxy  # the count is per worker: one, to know it
expect_eq "$(keytool del looper)" "deleted" "keytool del"

for _ in $(seq 10); do
    curl -s -o /dev/null "$URL" -H "Authorization: Bearer $(cat ./looper_token)"
done
expect_eq "$(grep -c 'keyauth: token of client "looper" refused' "$NGX_ERROR_LOG")" "1" \
    "refusal lines within the minute"

summary='keyauth: 9 more refusals of client "looper" \(unknown client\) in the last 6[0-9] s'
for _ in $(seq 150); do
    grep -Eq "$summary" "$NGX_ERROR_LOG" && break
    sleep 0.5
done
grep -Eq "$summary" "$NGX_ERROR_LOG" || fail "no count a minute later: $(grep keyauth "$NGX_ERROR_LOG")"
pass "a quiet minute's refusals reported with their count"

curl -s -o /dev/null "$URL" -H "Authorization: Bearer $(cat ./looper_token)"
expect_eq "$(grep -c 'keyauth: token of client "looper" refused' "$NGX_ERROR_LOG")" "1" \
    "refusal lines: the next refusal is inside the new minute"
stop_nginx
expect_clean_error_log ./looper_token
pass "the worker stopped cleanly with the timer armed"
