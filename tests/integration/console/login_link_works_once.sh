#!/bin/bash
# The first line is a one-time link, its secret in the fragment (#login=),
# which no browser sends: the page is served without it and the link is not
# spent by opening it. POST /api/v1/session exchanges the secret for a session
# token once; the same secret again, or a wrong one, is refused. No cookie, ever.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console

expect_eq "$(exchange "$(printf '%064d' 0)" | cut -d' ' -f1)" 401 "a wrong secret"
expect_eq "$(exchange "" | cut -d' ' -f1)" 401 "an empty secret"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"login":1}' "$CONSOLE/api/v1/session")" 400 "a secret that is no string"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -d "login=$LOGIN_SECRET" "$CONSOLE/api/v1/session")" 415 "a form post of the secret"

# Opening the link (curl drops the fragment, as browsers do), or a previewer's HEAD, spends nothing.
curl -s -I "$LOGIN_LINK" >/dev/null
headers=$(curl -s -D - -o "$WORK/page" "$LOGIN_LINK" | tr -d '\r')
expect_contains "$headers" "HTTP/1.1 200" "the page the link opens"
grep -qi '^Set-Cookie' <<<"$headers" && fail "the page set a cookie"
grep -q "$LOGIN_SECRET" "$WORK/page" && fail "the page holds the secret"
grep -q 'login link used' "$CONSOLE_LOG" && fail "opening the link spent it: $(cat "$CONSOLE_LOG")"

answer=$(exchange "$LOGIN_SECRET" -D "$WORK/login-headers")
expect_eq "${answer%% *}" 201 "the exchange"
grep -qi '^Set-Cookie' "$WORK/login-headers" && fail "the exchange set a cookie"
SESSION=$(json_field session <<<"${answer#* }")
[[ "$SESSION" =~ ^[0-9a-f]{64}$ ]] || fail "no session token: $answer"
expect_contains "$answer" '"idle_seconds":7200,"max_seconds":43200' "the session's lifetimes"
expect_eq "$(api GET /api/v1/clients | cut -d' ' -f1)" 200 "the API with the session"

second=$(exchange "$LOGIN_SECRET")
expect_eq "${second%% *}" 401 "the same secret a second time"
expect_contains "$second" "used already" "the second use's answer"
expect_eq "$(api GET /api/v1/clients | cut -d' ' -f1)" 200 "the first session still works"

# Under TLS the link is https and the exchange works the same.
stop_console_cleanly
start_console --tls
[[ "$LOGIN_LINK" == https://* ]] || fail "--tls link is not https: $LOGIN_LINK"
console_login --cacert "$KEYAUTH_REGISTRY/ca_cert.pem"
expect_eq "$(api GET /api/v1/clients --cacert "$KEYAUTH_REGISTRY/ca_cert.pem" | cut -d' ' -f1)" 200 "the API under TLS"

expect_no_secret_in_console_log
pass "the login link opens one session, once, with no cookie"
