#!/bin/bash
# Ten wrong login links a minute from one address, then that address gets 429
# (Retry-After) for every login until the minute is over; another address
# still logs in.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console

wrong=${LOGIN_LINK%=*}=$(printf '%064d' 0)
for i in $(seq 10); do
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$wrong")" 401 "wrong login $i"
done
answer=$(curl -s -D - "$wrong" | tr -d '\r')
expect_contains "$answer" "HTTP/1.1 429" "the eleventh wrong login"
expect_contains "$answer" "Retry-After: 60" "the eleventh wrong login"
expect_contains "$answer" "too many wrong login links" "the eleventh wrong login"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$LOGIN_LINK")" 429 "the right link from the same address"

# The link was not spent: from another address it opens the session.
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -c "$WORK/jar" "$LOGIN_LINK")" 303 \
    "the right link from 127.0.0.2"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "$WORK/jar" "$CONSOLE/api/v1/clients")" 200 "the session"
expect_no_secret_in_console_log
pass "wrong logins are throttled per address"
