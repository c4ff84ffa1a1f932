#!/bin/bash
# Ten wrong login links a minute from one address, then that address gets 429
# (Retry-After) for every wrong login until the minute is over; the right
# link from the same address still logs in (a local user sending wrong links
# from 127.0.0.1 cannot lock the operator's browser out). Each refusal is
# logged with its address.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console

wrong=$(printf '%064d' 0)
for i in $(seq 10); do
    expect_eq "$(exchange "$wrong" | cut -d' ' -f1)" 401 "wrong login $i"
done
answer=$(exchange "$wrong" -D - | tr -d '\r')
expect_contains "$answer" "HTTP/1.1 429" "the eleventh wrong login"
expect_contains "$answer" "Retry-After: 60" "the eleventh wrong login"
expect_contains "$answer" "too many wrong login links" "the eleventh wrong login"
expect_eq "$(exchange "$wrong" | cut -d' ' -f1)" 429 "a twelfth wrong login"
# Each refusal names where it came from, for the operator who reads the log.
expect_eq "$(grep -c 'login refused (wrong or used link) from 127.0.0.1$' "$CONSOLE_LOG")" 10 \
    "refused logins logged with their address"
console_login  # the right link, from the same address
expect_eq "$(api GET /api/v1/clients | cut -d' ' -f1)" 200 "the session"
expect_no_secret_in_console_log
pass "wrong logins are throttled per address; the right link is never refused"
