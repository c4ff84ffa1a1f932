#!/bin/bash
# Beyond loopback the console's link, session and new keys would cross the
# network: without --tls keytool serve refuses to start and says so. With
# --tls it serves, and answers only to its own names (--host), Origin included.
source "$(dirname "$0")/console_lib.sh"
keytool init --host console.example --host 127.0.0.1 >/dev/null
port=$(free_port)

rc=0
out=$(timeout 10 "$KEYTOOL" serve --listen "0.0.0.0:$port" 2>&1) || rc=$?
expect_eq "$rc" 1 "keytool serve --listen 0.0.0.0:$port without --tls"
expect_contains "$out" "--listen 0.0.0.0 is not a loopback address: add --tls" "its error"
rc=0
out=$(timeout 10 "$KEYTOOL" serve --listen "[::]:$port" 2>&1) || rc=$?
expect_eq "$rc" 1 "keytool serve --listen [::]:$port without --tls"
expect_contains "$out" "add --tls" "its error"

start_console_with --listen "0.0.0.0:$port" --tls --host console.example
[[ "$LOGIN_LINK" =~ ^https://console\.example:$port/#login=[0-9a-f]{64}$ ]] \
    || fail "the link does not name --host: [$LOGIN_LINK]"

tls=(--cacert "$KEYAUTH_REGISTRY/ca_cert.pem" --resolve "console.example:$port:127.0.0.1")
code() { curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" "$@"; }
expect_eq "$(code "$CONSOLE/api/v1/clients")" 401 "https://console.example (--host)"
expect_eq "$(code "https://127.0.0.1:$port/api/v1/clients")" 401 "https://127.0.0.1 (this host's own)"
expect_eq "$(code -H "Host: evil.example:$port" "https://127.0.0.1:$port/")" 421 "another name"

expect_eq "$(exchange "$LOGIN_SECRET" "${tls[@]}" -H "Origin: https://evil.example:$port" | cut -d' ' -f1)" \
    403 "a login from another origin"
console_login "${tls[@]}"
post() { code -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' "$@" \
    -d '{"id":"myapp01"}' "$CONSOLE/api/v1/clients"; }
expect_eq "$(post -H "Origin: https://evil.example:$port")" 403 "a change from another origin"
expect_eq "$(post -H "Origin: $CONSOLE")" 201 "a change from the console's own origin"
listed myapp01 || fail "myapp01 was not made"
expect_no_secret_in_console_log
pass "the console beyond loopback needs --tls and answers only to its names"
