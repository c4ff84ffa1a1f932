#!/bin/bash
# keytool del: the very next requests, in every worker, are refused; no
# reload, no restart.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
start_protected_proxy

# twenty_requests: "STATUS WORKER" of 20 requests, each on its own connection.
twenty_requests() {
    for _ in $(seq 20); do
        status_and_worker "$URL" -H "Authorization: Bearer `cat ./myapp01_token`"
    done
}

before=$(twenty_requests)
expect_eq "$(cut -d' ' -f1 <<<"$before" | sort -u)" "200" "statuses before del"
expect_eq "$(cut -d' ' -f2 <<<"$before" | sort -u | wc -l)" "2" "workers that answered before del"
pass "before del: 20 requests accepted by both workers"

expect_eq "$(keytool del myapp01)" "deleted" "keytool del"

after=$(twenty_requests)
expect_eq "$(cut -d' ' -f1 <<<"$after" | sort -u)" "401" "statuses after del"
expect_eq "$(cut -d' ' -f2 <<<"$after" | sort -u | wc -l)" "2" "workers that answered after del"
pass "after del: the next 20 requests refused by both workers"

out=$(curl -s http://127.0.0.1:$PORT/db/query -H "Authorization: Bearer `cat ./myapp01_token`")
expect_eq "$out" "$INVALID_TOKEN_BODY" "body after del"
expect_contains "$(cat "$NGX_ERROR_LOG")" 'token of client "myapp01" refused: unknown client' "refusal logged"
expect_clean_error_log ./myapp01_token
pass "deleted client: invalid token, logged as unknown client"
