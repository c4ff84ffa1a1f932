#!/bin/bash
# No limit on readers: 160 workers (LMDB's reader table held 126), reloaded
# twice under load, all answer, and a deletion reaches every one of them.
source "$(dirname "$0")/../nginx/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
UP=$(free_port)
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/db/query
write_nginx_conf "$(upstream_server "$UP") $(protected_server "$PORT" "$UP")"
sed -i 's/^worker_processes 2;/worker_processes 160;/' "$NGX_PREFIX/conf/nginx.conf"
out=$(sanitized "$NGINX_BIN" -p "$NGX_PREFIX" -c conf/nginx.conf -g 'daemon on;' 2>&1) ||
    fail "nginx did not start: $out"
at_exit stop_nginx
wait_for_port "$PORT"
wait_for_workers 160

requests() {
    for _ in $(seq "$1"); do
        status_and_worker "$URL" -H "Authorization: Bearer $(cat ./myapp01_token)"
    done
}
for round in 1 2; do
    sanitized "$NGINX_BIN" -p "$NGX_PREFIX" -c conf/nginx.conf -s reload
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
