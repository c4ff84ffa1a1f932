#!/bin/bash
# While another writer holds writer.lock (keytool gen, keyauth-sync's
# exchange, a keytool stopped by Ctrl-Z), the console's list and a client's
# page answer at once from what the servers enforce: each once held a
# console thread 5 s, then answered the registry is busy.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login
create_client sensor-1

hold_writer_lock "$KEYAUTH_REGISTRY" 60
for path in /api/v1/clients /api/v1/clients/sensor-1; do
    start=$(date +%s%N)
    answer=$(api GET "$path")
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    expect_eq "${answer%% *}" 200 "GET $path beside a busy writer.lock: ${answer#* }"
    expect_contains "$answer" '"id":"sensor-1"' "GET $path beside a busy writer.lock"
    [ "$elapsed_ms" -lt 2000 ] || fail "GET $path waited ${elapsed_ms} ms for writer.lock"
    pass "GET $path beside a busy writer.lock answers in ${elapsed_ms} ms"
done
kill "$WRITER_LOCK_HOLDER"
wait "$WRITER_LOCK_HOLDER" 2>/dev/null || true

expect_no_secret_in_console_log sensor-1_token
pass "the console reads beside a busy writer.lock"
