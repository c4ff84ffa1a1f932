#!/bin/bash
# keyauth_last_use: each worker marks the clients it admits and writes them,
# at most once per interval, to a file of www-data's own; keytool reads it
# (list --unused, show) and names the clients with no recorded use. A
# process holding the file's lock (as a worker stopped inside a flush would)
# delays only the record, never an admission.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
new_last_use_file www-data
UP=$(free_port)
PORT=$(free_port)
start_nginx "keyauth_last_use $LAST_USE interval=1s;
$(upstream_server "$UP") $(protected_server "$PORT" "$UP")"
URL=http://127.0.0.1:$PORT/db/query

# request TOKEN_FILE: one admitted request on a new connection (any worker);
# its worker is noted.
request() {
    local got
    got=$(status_and_worker "$URL" -H "Authorization: Bearer $(cat "$1")")
    expect_eq "${got% *}" "200" "request with $1"
    echo "${got#* }" >>"$WORK/workers"
}

unused() { unused_clients "$LAST_USE" "$1"; }

expect_contains "$(nginx_test "keyauth_last_use $LAST_USE interval=0s;")" \
    "the last-use interval must be 1s to 60s" "nginx -t with interval=0s"
expect_contains "$(nginx_test "keyauth_last_use $LAST_USE every=1s;")" \
    'invalid parameter "every=1s"' "nginx -t with an unknown parameter"
write_nginx_conf "keyauth_last_use $LAST_USE interval=1s;
$(upstream_server "$UP") $(protected_server "$PORT" "$UP")"
pass "keyauth_last_use: the interval is 1s to 60s, anything else fails nginx -t"

T0=$(date +%s)
for _ in $(seq 12); do request ./myapp01_token; done
expect_eq "$(sort -u "$WORK/workers" | wc -l)" "2" "workers that served myapp01"
wait_for_last_use "$LAST_USE" myapp01
sleep 1.5   # the other worker's flush too
expect_eq "$(unused 10m)" "myapp02" "clients unused in the last 10 minutes"
recorded=$(last_used "$LAST_USE" myapp01)
[ "$recorded" -ge $((T0 / 60 * 60)) ] && [ "$recorded" -le "$(date +%s)" ] ||
    fail "myapp01's last use $recorded is not in [$((T0 / 60 * 60)), now]"
expect_contains "$(keytool show myapp01 --last-use "$LAST_USE")" \
    "LAST USED           $(date -u -d "@$recorded" '+%Y-%m-%d %H:%M:%S') +0000 UTC (at least this recent)" \
    "keytool show"
table=$(keytool list --last-use "$LAST_USE")
expect_contains "$table" "LAST USED" "keytool list's columns"
expect_contains "$(echo "$table" | grep myapp02)" "never" "myapp02's row"
expect_eq "$(stat -c '%U %a' "$LAST_USE")" "www-data 640" "the file's owner and mode"
pass "keyauth_last_use: two workers record myapp01 at its minute; list --unused names only myapp02"

expect_contains "$(keytool list --unused 10m 2>&1 || true)" "--unused needs the servers' records" \
    "list --unused without a file"
printf 'not a last-use file, but long enough to hold its sixty-four byte header\n' >"$WORK/foreign"
expect_contains "$(keytool list --unused 10m --last-use "$WORK/foreign" 2>&1 || true)" \
    "not a keyauth last-use file" "list with a foreign file"
pass "keytool list --unused: needs a file; refuses one that is not a last-use file"

# Held as a worker stopped inside its flush would hold it: admissions go on
# at full speed, the record waits; released, it is written.
hold_lock "$LAST_USE"
start=$(date +%s%N)
for _ in $(seq 10); do request ./myapp02_token; done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed_ms" -lt 2000 ] || fail "10 requests took $elapsed_ms ms while the file was held"
sleep 2.5   # two intervals: both workers tried and found it held
expect_eq "$(unused 10m)" "myapp02" "unused while the file is held (the record waits)"
release_lock
wait_for_last_use "$LAST_USE" myapp02
expect_eq "$(unused 10m)" "" "unused once the file is released"
pass "keyauth_last_use: a held file delays the record ($elapsed_ms ms for 10 requests), never an admission"

expect_clean_error_log ./myapp01_token ./myapp02_token
