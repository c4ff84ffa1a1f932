#!/bin/bash
# A client made through the API works at once through the real nginx, its zip
# is gen --zip's bundle, the CA is server-cert's; deleted, it is refused at once.
NGINX_TESTS=$(cd "$(dirname "$0")/../nginx" && pwd)
source "$NGINX_TESTS/nginx_lib.sh"
source "$(dirname "$0")/console_lib.sh"
init_registry
start_protected_proxy
start_console
console_login

create_client myapp01 '"days":30'
expect_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$WORK/myapp01.json")" active "state"
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer $(cat myapp01_token)")" \
    "200 client=myapp01" "the console's token through nginx"

# The zip, as curl users get it: the three files with gen's names and modes.
answer=$(api POST /api/v1/clients -H 'Content-Type: application/json' \
    -d '{"id":"myapp02","expire":"2031-01-15"}')
expect_eq "${answer%% *}" 201 "POST with an expiry date"
curl -s -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' \
    -d '{"id":"myapp03"}' -o myapp03.zip -w '%{http_code} %{content_type}\n' "$CONSOLE/api/v1/clients?format=zip" >"$WORK/zip-status"
expect_eq "$(cat "$WORK/zip-status")" "201 application/zip" "zip download"
mkdir unzipped && (cd unzipped && unzip -q ../myapp03.zip)
expect_eq "$(cd unzipped && ls | tr '\n' ' ')" "myapp03_cert.pem myapp03_key.pem myapp03_token " "zip entries"
expect_eq "$(zipinfo myapp03.zip | awk '/myapp03_/ {print $1, $NF}' | tr '\n' ' ')" \
    "-rw-r--r-- myapp03_cert.pem -rw------- myapp03_key.pem -rw------- myapp03_token " "zip modes"
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer $(cat unzipped/myapp03_token)")" \
    "200 client=myapp03" "the zip's token through nginx"
openssl verify -CAfile "$KEYAUTH_REGISTRY/ca_cert.pem" unzipped/myapp03_cert.pem >/dev/null \
    || fail "the zip's certificate does not verify"
expect_eq "$(openssl pkey -in unzipped/myapp03_key.pem -pubout | sha256sum)" \
    "$(openssl x509 -in unzipped/myapp03_cert.pem -noout -pubkey | sha256sum)" "key matches certificate"
# The expiry picked by date: 2031-01-15, at the time of day of issue.
expect_contains "$(keytool list)" "myapp02" "list"
expect_contains "$(keytool list | grep myapp02)" "2031-01-15" "myapp02 expiry"

# The CA certificate is server-cert's.
curl -s -H "Authorization: Bearer $SESSION" -o ca.pem "$CONSOLE/api/v1/ca.pem"
keytool server-cert --output server.crt >/dev/null
cmp -s ca.pem server.crt || fail "GET /api/v1/ca.pem differs from keytool server-cert"

# show, a page of the list, search, sort.
answer=$(api GET /api/v1/clients/myapp01)
expect_eq "${answer%% *}" 200 "GET one client"
expect_contains "$answer" '"id":"myapp01","state":"active"' "GET one client"
expect_contains "$(api GET '/api/v1/clients?limit=2')" '"total":3,"offset":0,"limit":2' "paged list"
# myapp01 ends in 30 days, myapp03 in three years, myapp02 on 2031-01-15.
expect_eq "$(api GET '/api/v1/clients?sort=expire' | grep -o '"id":"[^"]*"' | tr '\n' ' ')" \
    '"id":"myapp01" "id":"myapp03" "id":"myapp02" ' "sorted by expiry"
expect_eq "$(api GET '/api/v1/clients?limit=1&offset=1&sort=-expire' | grep -o '"id":"[^"]*"')" \
    '"id":"myapp03"' "second page of one, latest expiry first"
expect_eq "$(api GET '/api/v1/clients?q=p02' | grep -o '"id":"[^"]*"' | tr '\n' ' ')" '"id":"myapp02" ' "search"
expect_contains "$(api GET '/api/v1/expiry-calendar?months=2')" '"months":[' "calendar"
expect_eq "$(api GET '/api/v1/clients?expiring=31d' | grep -o '"id":"[^"]*"' | tr '\n' ' ')" '"id":"myapp01" ' "expiring within 31 days"
# A second POST of the same id is refused; force replaces it.
answer=$(api POST /api/v1/clients -H 'Content-Type: application/json' -d '{"id":"myapp01"}')
expect_eq "${answer%% *}" 409 "a second myapp01"

answer=$(api DELETE /api/v1/clients/myapp01)
expect_eq "$answer" '200 {"id":"myapp01","deleted":true}' "DELETE"
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer $(cat myapp01_token)")" \
    "401 $INVALID_TOKEN_BODY" "the deleted token through nginx"
listed myapp01 && fail "myapp01 still listed"

expect_clean_error_log myapp01_token unzipped/myapp03_token
expect_no_secret_in_console_log myapp01_token unzipped/myapp03_token
pass "a client made in the console is admitted by nginx until deleted there"
