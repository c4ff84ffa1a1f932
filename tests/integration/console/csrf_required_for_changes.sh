#!/bin/bash
# With a session, a change still needs the session's CSRF token in
# X-CSRF-Token and, when there is an Origin, our own; a refused change changes nothing.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
keytool gen myapp01 >/dev/null
start_console
console_login
body='{"id":"forged"}'
# The right token with its last digit changed.
if [ "${CSRF: -1}" = 0 ]; then wrong=${CSRF%?}1; else wrong=${CSRF%?}0; fi

status() { curl -s -o "$WORK/body" -w '%{http_code}' -b "$JAR" "$@"; }
expect_eq "$(status -X POST -H 'Content-Type: application/json' -d "$body" "$CONSOLE/api/v1/clients")" 403 "POST without the CSRF header"
expect_contains "$(cat "$WORK/body")" "X-CSRF-Token" "refusal"
expect_eq "$(status -X POST -H "X-CSRF-Token: $wrong" -H 'Content-Type: application/json' -d "$body" "$CONSOLE/api/v1/clients")" 403 "POST with a wrong CSRF token"
expect_eq "$(status -X POST -H "X-CSRF-Token: ${CSRF:0:10}" -H 'Content-Type: application/json' -d "$body" "$CONSOLE/api/v1/clients")" 403 "POST with a short CSRF token"
expect_eq "$(status -X DELETE "$CONSOLE/api/v1/clients/myapp01")" 403 "DELETE without the CSRF header"
expect_eq "$(status -X DELETE -H "X-CSRF-Token: $CSRF" -H 'Origin: http://evil.example' "$CONSOLE/api/v1/clients/myapp01")" 403 "DELETE from another origin"
expect_eq "$(status -X POST -H "X-CSRF-Token: $CSRF" -H 'Content-Type: text/plain' -d "$body" "$CONSOLE/api/v1/clients")" 415 "POST of a form-like body"
for action in rotate suspend resume; do
    expect_eq "$(status -X POST "$CONSOLE/api/v1/clients/myapp01/$action")" 403 "$action without the CSRF header"
    expect_eq "$(status -X POST -H "X-CSRF-Token: $wrong" "$CONSOLE/api/v1/clients/myapp01/$action")" 403 "$action with a wrong CSRF token"
    expect_eq "$(status -X POST -H "X-CSRF-Token: $CSRF" -H 'Origin: http://evil.example' "$CONSOLE/api/v1/clients/myapp01/$action")" 403 "$action from another origin"
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X POST "$CONSOLE/api/v1/clients/myapp01/$action")" 401 "$action without a session"
done
expect_eq "$(status -X POST -H "X-CSRF-Token: $CSRF" "$CONSOLE/api/v1/logout")" 200 "logout with the token"
expect_eq "$(status "$CONSOLE/api/v1/clients")" 401 "after logout"
# A Host that is not ours (DNS rebinding) is refused before anything else.
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$CONSOLE/login")" 421 "foreign Host"

listed myapp01 || fail "myapp01 was deleted"
listed forged && fail "a forged client was registered"
keytool verify - <myapp01_token >/dev/null || fail "myapp01's token no longer valid: rotated or suspended"
expect_no_secret_in_console_log
pass "changes without the CSRF token or from another origin are refused"
