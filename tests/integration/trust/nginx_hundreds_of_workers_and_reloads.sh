#!/bin/bash
# No limit on readers: 160 workers (LMDB's reader table held 126), reloaded
# twice under load, all answer, and a deletion reaches every one of them.
source "$(dirname "$0")/../nginx/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
NGX_WORKERS=160 start_protected_proxy

requests() {
    for _ in $(seq "$1"); do
        status_and_worker "$URL" -H "Authorization: Bearer $(cat ./myapp01_token)"
    done
}
for round in 1 2; do
    reload_nginx
    sleep 1
    answers=$(requests 100)
    expect_eq "$(cut -d' ' -f1 <<<"$answers" | sort -u)" "200" "statuses after reload $round"
done
workers=$(cut -d' ' -f2 <<<"$answers" | sort -u | wc -l)
[ "$workers" -ge 10 ] || fail "only $workers workers answered"
pass "160 workers, reloaded twice: every request admitted ($workers workers answered the last 100)"

keytool del myapp01 >/dev/null
answers=$(requests 100)
expect_eq "$(cut -d' ' -f1 <<<"$answers" | sort -u)" "401" "statuses after del"
log=$(cat "$NGX_ERROR_LOG")
expect_not_contains "$log" "MDB_READERS_FULL" "error log"
expect_not_contains "$log" "readers" "error log"
expect_clean_error_log ./myapp01_token
pass "deleted: refused by every worker that answered"
