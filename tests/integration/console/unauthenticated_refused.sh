#!/bin/bash
# Without the session every path answers 401, the page's files included; the
# answers carry the strict Content-Security-Policy.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
keytool gen myapp01 >/dev/null
start_console

for path in / /console.js /console.css /api/v1/clients /api/v1/session /api/v1/ca.pem \
    /api/v1/clients/myapp01 /api/v1/expiry-calendar /nothing; do
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$CONSOLE$path")" 401 "GET $path without a session"
done
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$CONSOLE/api/v1/clients/myapp01")" 401 "DELETE without a session"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"id":"intruder"}' "$CONSOLE/api/v1/clients")" 401 "POST without a session"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -b 'keyauth_session=0000000000000000000000000000000000000000000000000000000000000000' \
    "$CONSOLE/api/v1/clients")" 401 "a made-up session cookie"
expect_eq "$(curl -s "$CONSOLE/api/v1/clients")" '{"error":"log in with the link keytool serve printed"}' "401 body"

headers=$(curl -s -D - -o /dev/null "$CONSOLE/" | tr -d '\r')
expect_contains "$headers" "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" "CSP"
expect_contains "$headers" "X-Frame-Options: DENY" "headers"
expect_contains "$headers" "Cache-Control: no-store" "headers"

listed myapp01 || fail "myapp01 is gone"
[ "$(keytool list --json | grep -c '"id"')" = 1 ] || fail "something was registered"
expect_no_secret_in_console_log
pass "every path answers 401 without the login link's session"
