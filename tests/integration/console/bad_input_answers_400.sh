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
answer=$(api POST /api/v1/clients -H 'Content-Type: application/json' --data-binary "{\"id\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}")
expect_eq "${answer%% *}" 413 "a body over 4096 bytes"

expect_eq "$(keytool list --json)" "[]" "registry after bad input"
expect_no_secret_in_console_log
pass "bad input answers 400 with a JSON error and writes nothing"
