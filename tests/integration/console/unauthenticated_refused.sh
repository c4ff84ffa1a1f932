#!/bin/bash
# Without the session every API path answers 401, a cookie included; the page's
# files, which hold no secret, are served to anyone (the page logs in from the
# link's fragment); every answer carries the strict Content-Security-Policy.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
keytool gen myapp01 >/dev/null
start_console

for path in / /console.js /console.css /favicon.svg; do
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$CONSOLE$path")" 200 "GET $path, the page's own file"
done
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$CONSOLE/nothing")" 404 "GET /nothing"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$CONSOLE/")" 405 "POST /"
for path in /api/v1/clients /api/v1/session /api/v1/ca.pem /api/v1/clients/myapp01 \
    /api/v1/expiry-calendar /api/v1/nothing; do
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$CONSOLE$path")" 401 "GET $path without a session"
done
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$CONSOLE/api/v1/clients/myapp01")" 401 "DELETE without a session"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"id":"intruder"}' "$CONSOLE/api/v1/clients")" 401 "POST without a session"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -b 'keyauth_session=0000000000000000000000000000000000000000000000000000000000000000' \
    "$CONSOLE/api/v1/clients")" 401 "a made-up session cookie"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer 0000000000000000000000000000000000000000000000000000000000000000' \
    "$CONSOLE/api/v1/clients")" 401 "a made-up session token"
expect_eq "$(curl -s "$CONSOLE/api/v1/clients")" '{"error":"log in with the link keytool serve printed"}' "401 body"

headers=$(curl -s -D - -o /dev/null "$CONSOLE/" | tr -d '\r')
expect_contains "$headers" "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" "CSP"
expect_contains "$headers" "X-Frame-Options: DENY" "headers"
expect_contains "$headers" "Cache-Control: no-store" "headers"

listed myapp01 || fail "myapp01 is gone"
[ "$(keytool list --json | grep -c '"id"')" = 1 ] || fail "something was registered"
expect_no_secret_in_console_log
pass "every API path answers 401 without the login link's session"
