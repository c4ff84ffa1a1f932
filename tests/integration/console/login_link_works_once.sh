#!/bin/bash
# The first line is a one-time link: it opens a session (an HttpOnly,
# SameSite=Strict cookie) once; the same link again, or a wrong secret, is refused.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console

wrong=${LOGIN_LINK%=*}=$(printf '%064d' 0)
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$wrong")" 401 "a wrong secret"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "${LOGIN_LINK%=*}=")" 401 "an empty secret"

# A link previewer's HEAD does not use it up.
curl -s -I "$LOGIN_LINK" >/dev/null
headers=$(curl -s -D - -o /dev/null -c "$WORK/jar" "$LOGIN_LINK" | tr -d '\r')
expect_contains "$headers" "HTTP/1.1 303" "first use of the link"
expect_contains "$headers" "Location: /" "first use of the link"
cookie=$(grep -i '^Set-Cookie:' <<<"$headers")
expect_contains "$cookie" "HttpOnly" "session cookie"
expect_contains "$cookie" "SameSite=Strict" "session cookie"
expect_not_contains "$cookie" "Secure" "session cookie over plain HTTP"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "$WORK/jar" "$CONSOLE/")" 200 "the page with the session"

second=$(curl -s -w ' %{http_code}' -c "$WORK/jar2" "$LOGIN_LINK")
expect_eq "${second##* }" 401 "the same link a second time"
expect_contains "$second" "used already" "the second use's answer"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "$WORK/jar2" "$CONSOLE/api/v1/clients")" 401 "no session from the second use"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "$WORK/jar" "$CONSOLE/api/v1/clients")" 200 "the first session still works"

# Under TLS the cookie is Secure, and the link is https.
stop_console_cleanly
start_console --tls
[[ "$LOGIN_LINK" == https://* ]] || fail "--tls link is not https: $LOGIN_LINK"
cookie=$(curl -s -D - -o /dev/null --cacert "$KEYAUTH_REGISTRY/ca_cert.pem" "$LOGIN_LINK" | tr -d '\r' | grep -i '^Set-Cookie:')
expect_contains "$cookie" "; Secure" "session cookie under TLS"

expect_no_secret_in_console_log
pass "the login link opens one session, once"
