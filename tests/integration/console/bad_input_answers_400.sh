#!/bin/bash
# Bad input gets 400 and a JSON error that says what is wrong; nothing is written.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login

post() { api POST /api/v1/clients -H 'Content-Type: application/json' -d "$1"; }
expect_400() {
    local answer=$1 needle=$2 what=$3
    expect_eq "${answer%% *}" 400 "$what"
    expect_contains "${answer#* }" "{\"error\":" "$what"
    expect_contains "${answer#* }" "$needle" "$what"
}
expect_400 "$(post 'not json')" "JSON object" "a body that is not JSON"
expect_400 "$(post '["myapp01"]')" "JSON object" "an array"
expect_400 "$(post '{}')" "id is required" "no id"
expect_400 "$(post '{"id":"a/b"}')" "client id" "an id with /"
expect_400 "$(post '{"id":"../etc"}')" "client id" "an id with .."
expect_400 "$(post "{\"id\":\"$(printf 'a%.0s' $(seq 65))\"}")" "client id" "a 65-character id"
expect_400 "$(post '{"id":"myapp01","days":0}')" "days must be" "days 0"
expect_400 "$(post '{"id":"myapp01","days":"30"}')" "days" "days as a string"
expect_400 "$(post '{"id":"myapp01","days":99999}')" "days must be" "too many days"
expect_400 "$(post '{"id":"myapp01","expire":"2020-01-01"}')" "expire must be" "an expiry in the past"
expect_400 "$(post '{"id":"myapp01","expire":"2030-02-30"}')" "expire must be" "February 30th"
expect_400 "$(post '{"id":"myapp01","expire":"tomorrow"}')" "expire must be" "a word for a date"
expect_400 "$(post '{"id":"myapp01","days":30,"expire":"2030-01-01"}')" "not both" "days and expire"
expect_400 "$(post '{"id":"myapp01","admin":true}')" "unexpected field" "an unknown field"
expect_400 "$(api GET '/api/v1/clients?limit=0')" "limit must be" "limit 0"
expect_400 "$(api GET '/api/v1/clients?limit=5000')" "limit must be" "limit 5000"
expect_400 "$(api GET '/api/v1/clients?offset=-1')" "offset must be" "offset -1"
expect_400 "$(api GET '/api/v1/clients?sort=secret')" "sort must be" "unknown sort"
expect_400 "$(api GET '/api/v1/clients?q=a%2Fb')" "q must be" "search with /"
expect_400 "$(api GET '/api/v1/clients?expiring=soon')" "expiring: a duration" "expiring=soon"
expect_400 "$(api GET '/api/v1/expiry-calendar?months=1000')" "months must be" "months 1000"
expect_400 "$(api DELETE /api/v1/clients/a..b)" "client id" "DELETE of a bad id"
answer=$(api DELETE /api/v1/clients/nobody)
expect_eq "${answer%% *}" 404 "DELETE of an unknown client"
# Rotate, suspend and resume (nothing registered: a body is judged before the client).
rotate() { api POST /api/v1/clients/myapp01/rotate -H 'Content-Type: application/json' -d "$1"; }
expect_400 "$(rotate 'not json')" "JSON object" "a rotation body that is not JSON"
expect_400 "$(rotate '{"grace":"7 days"}')" "grace: a duration" "a grace in words"
expect_400 "$(rotate '{"grace":7}')" "grace must be a duration" "a grace as a number"
expect_400 "$(rotate '{"grace":"400d"}')" "between 0 and 366 days" "a grace over a year"
expect_400 "$(rotate '{"force":true}')" "unexpected field" "force in a rotation"
expect_400 "$(rotate '{"days":30,"expire":"2030-01-01"}')" "not both" "days and expire in a rotation"
expect_400 "$(api POST /api/v1/clients/a..b/rotate)" "client id" "rotate of a bad id"
expect_400 "$(api POST /api/v1/clients/a..b/suspend)" "client id" "suspend of a bad id"
expect_400 "$(api GET '/api/v1/clients?state=revoked')" "state must be" "an unknown state"
for action in rotate suspend resume; do
    expect_eq "$(api POST /api/v1/clients/nobody/$action | cut -d' ' -f1)" 404 "$action of an unknown client"
done
expect_eq "$(api POST /api/v1/clients/nobody/renew | cut -d' ' -f1)" 404 "an unknown action"
expect_eq "$(api GET /api/v1/clients/nobody/suspend | cut -d' ' -f1)" 405 "GET of an action"
expect_eq "$(api POST /api/v1/clients/myapp01/rotate -H 'Content-Type: text/plain' -d '{}' |
    cut -d' ' -f1)" 415 "a rotation body not JSON"
answer=$(api POST /api/v1/clients -H 'Content-Type: application/json' --data-binary "{\"id\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}")
expect_eq "${answer%% *}" 413 "a body over 4096 bytes"

expect_eq "$(keytool list --json)" "[]" "registry after bad input"
expect_no_secret_in_console_log
pass "bad input answers 400 with a JSON error and writes nothing"
