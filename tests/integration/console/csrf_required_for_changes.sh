#!/bin/bash
# With a session, every API request needs the session token in Authorization:
# Bearer (a header no other page can make a browser send; a cookie is never
# read, so a planted one neither logs in nor locks out), and a change or a login
# with an Origin needs our own; a refused change changes nothing.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
keytool gen myapp01 >/dev/null
start_console
console_login
body='{"id":"forged"}'
# The right token with its last digit changed.
if [ "${SESSION: -1}" = 0 ]; then wrong=${SESSION%?}1; else wrong=${SESSION%?}0; fi

status() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
bearer=(-H "Authorization: Bearer $SESSION")
expect_eq "$(status -X POST -H 'Content-Type: application/json' -d "$body" "$CONSOLE/api/v1/clients")" 401 "POST without the session header"
expect_eq "$(status -X POST -H "Authorization: Bearer $wrong" -H 'Content-Type: application/json' -d "$body" "$CONSOLE/api/v1/clients")" 401 "POST with a wrong session token"
expect_eq "$(status -X POST -H "Authorization: Bearer ${SESSION:0:10}" -H 'Content-Type: application/json' -d "$body" "$CONSOLE/api/v1/clients")" 401 "POST with a short session token"
for cookie in "keyauth_session=$SESSION" "session=$SESSION" "Authorization=Bearer%20$SESSION"; do
    expect_eq "$(status -X POST -H "Cookie: $cookie" -H 'Content-Type: application/json' -d "$body" "$CONSOLE/api/v1/clients")" 401 "POST with the session in a cookie ($cookie)"
    expect_eq "$(status -H "Cookie: $cookie" "$CONSOLE/api/v1/clients")" 401 "GET with the session in a cookie"
done
expect_eq "$(status -X DELETE "$CONSOLE/api/v1/clients/myapp01")" 401 "DELETE without the session header"
expect_eq "$(status -X DELETE "${bearer[@]}" -H 'Origin: http://evil.example' "$CONSOLE/api/v1/clients/myapp01")" 403 "DELETE from another origin"
expect_contains "$(cat "$WORK/body")" "cross-origin request refused" "refusal"
expect_eq "$(status -X POST "${bearer[@]}" -H 'Content-Type: text/plain' -d "$body" "$CONSOLE/api/v1/clients")" 415 "POST of a form-like body"
for action in rotate suspend resume; do
    expect_eq "$(status -X POST "$CONSOLE/api/v1/clients/myapp01/$action")" 401 "$action without the session header"
    expect_eq "$(status -X POST -H "Authorization: Bearer $wrong" "$CONSOLE/api/v1/clients/myapp01/$action")" 401 "$action with a wrong session token"
    expect_eq "$(status -X POST "${bearer[@]}" -H 'Origin: http://evil.example' "$CONSOLE/api/v1/clients/myapp01/$action")" 403 "$action from another origin"
    expect_eq "$(status -X POST -H "Cookie: keyauth_session=$SESSION" "$CONSOLE/api/v1/clients/myapp01/$action")" 401 "$action with the session in a cookie"
done
# A planted cookie, however made, does not lock the session out.
expect_eq "$(status "${bearer[@]}" -H "Cookie: keyauth_session=$wrong; keyauth_session=x" "$CONSOLE/api/v1/clients")" 200 "the session beside a planted cookie"
expect_eq "$(status -D "$WORK/headers" "${bearer[@]}" "$CONSOLE/api/v1/clients")" 200 "the session"
grep -qi '^Set-Cookie' "$WORK/headers" && fail "the console set a cookie: $(cat "$WORK/headers")"
expect_eq "$(status -X POST "${bearer[@]}" "$CONSOLE/api/v1/logout")" 200 "logout"
expect_eq "$(status "${bearer[@]}" "$CONSOLE/api/v1/clients")" 401 "after logout"
# A Host that is not ours (DNS rebinding) is refused before anything else.
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$CONSOLE/")" 421 "foreign Host"

listed myapp01 || fail "myapp01 was deleted"
listed forged && fail "a forged client was registered"
keytool verify - <myapp01_token >/dev/null || fail "myapp01's token no longer valid: rotated or suspended"
expect_no_secret_in_console_log
pass "changes without the session header (a cookie never counts) or from another origin are refused"
