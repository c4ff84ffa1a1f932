#!/bin/bash
# A device looping with a deleted token does not flood the error log: its
# first refusal is logged (client, reason, listen address; nginx adds the
# client's address and the server), the next ones within the minute are
# counted quietly. Another client's refusal still gets its own line.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen looper --output ./looper >/dev/null
keytool gen other --output ./other >/dev/null
NGX_WORKERS=1 start_protected_proxy  # the limit is per worker: one, to count exactly

expect_eq "$(keytool del looper)" "deleted" "keytool del"
statuses=$(for _ in $(seq 50); do
    curl -s -o /dev/null -w '%{http_code}\n' "$URL" -H "Authorization: Bearer $(cat ./looper_token)"
done | sort | uniq -c | awk '{ print $1, $2 }')
expect_eq "$statuses" "50 401" "the deleted client's 50 requests"

lines=$(grep -c 'keyauth: token of client "looper" refused' "$NGX_ERROR_LOG")
expect_eq "$lines" "1" "refusal lines for the deleted client"
line=$(grep 'keyauth: token of client "looper" refused' "$NGX_ERROR_LOG")
expect_contains "$line" "refused: unknown client (listen 127.0.0.1:$PORT)" "reason and listen address"
expect_contains "$line" "client: 127.0.0.1, server: " "nginx's client address and server"
pass "50 refusals of one deleted client: one line"

keytool del other >/dev/null
out=$(curl_status_body "$URL" -H "Authorization: Bearer $(cat ./other_token)")
expect_eq "${out%% *}" "401" "the other deleted client"
expect_eq "$(grep -c 'keyauth: token of client "other" refused: unknown client' "$NGX_ERROR_LOG")" \
    "1" "the other client's refusal line"
pass "another client's refusal still logged"

expect_clean_error_log ./looper_token ./other_token
pass "no token secret in the error log"
