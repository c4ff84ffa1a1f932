#!/bin/bash
# keytool serve --last-use FILE: each client in /api/v1/clients carries
# last_used, the latest minute the hosts' records hold ("at least this recent"),
# or null for no record; unused=DUR lists the clients with no use recorded
# within DUR, as keytool list --unused does. The file is read again when the
# server writes it; one that cannot be read stops serve at start and is named
# in the answer (last_use_errors) later.
NGINX_TESTS=$(cd "$(dirname "$0")/../nginx" && pwd)
source "$NGINX_TESTS/nginx_lib.sh"
source "$(dirname "$0")/console_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
keytool gen myapp02 --output ./myapp02 >/dev/null
start_proxy_recording_last_use

# ids FILTER: the ids /api/v1/clients?FILTER lists, space-separated.
ids() {
    local answer
    answer=$(api GET "/api/v1/clients?$1")
    expect_eq "${answer%% *}" 200 "GET /api/v1/clients?$1: ${answer#* }"
    python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)["clients"]))' \
        <<<"${answer#* }"
}
# last_use_of ID: that client's last_used in the list ("None": null).
last_use_of() {
    api GET "/api/v1/clients?q=$1" | cut -d' ' -f2- | python3 -c '
import json, sys
print([c for c in json.load(sys.stdin)["clients"] if c["id"] == sys.argv[1]][0]["last_used"])' "$1"
}

# (Were it to serve, timeout ends it and the exit status says so.)
refused=$(timeout 10 "$KEYTOOL" serve --listen "127.0.0.1:$(free_port)" --last-use "$LAST_USE" 2>&1; echo "exit $?")
expect_eq "$refused" "keytool: --last-use: $LAST_USE: cannot open (No such file or directory)
exit 1" "serve with a missing file"
pass "keytool serve --last-use: a file it cannot read stops it at start, named"

use_recorded myapp01
recorded=$(last_used "$LAST_USE" myapp01)
start_console --last-use "$LAST_USE"
console_login

expect_eq "$(last_use_of myapp01)" "$recorded" "myapp01's last_used"
expect_eq "$(last_use_of myapp02)" "None" "myapp02's last_used"
expect_contains "$(api GET /api/v1/clients)" '"last_use_errors":[]' "no file errors"
expect_eq "$(ids 'unused=1d')" "myapp02" "unused=1d"
expect_contains "$(api GET '/api/v1/clients?unused=1d')" '"total":1,' "unused=1d's total"
expect_eq "$(ids 'unused=1d&state=active&q=app')" "myapp02" "unused=1d with other filters"
pass "/api/v1/clients: last_used for the used client, null for the other; unused=1d lists only the other"

keytool gen myapp03 --output ./myapp03 >/dev/null
keytool gen myapp04 --output ./myapp04 >/dev/null
expect_eq "$(ids 'unused=1d&limit=2')" "myapp02 myapp03" "unused=1d, first page of two"
expect_contains "$(api GET '/api/v1/clients?unused=1d&limit=2')" '"total":3,"offset":0,"limit":2' "first page's total"
expect_eq "$(ids 'unused=1d&limit=2&offset=2')" "myapp04" "unused=1d, second page"
expect_eq "$(ids 'unused=1d&limit=1&offset=0&sort=-id')" "myapp04" "unused=1d, latest id first"
pass "unused=: pages count only the clients it keeps"

for bad in bogus 0x 1y -1d; do
    answer=$(api GET "/api/v1/clients?unused=$bad")
    expect_eq "${answer%% *}" 400 "unused=$bad"
    expect_contains "$answer" '{"error":"unused: ' "unused=$bad's error"
done
pass "unused= that is not a duration answers 400, naming it"

# myapp02 used after serve started: the file changes, the next answer says so.
use_recorded myapp02
expect_eq "$(last_use_of myapp02)" "$(last_used "$LAST_USE" myapp02)" \
    "myapp02's last_used once the server wrote it"
expect_eq "$(ids 'unused=1d')" "myapp03 myapp04" "unused=1d after myapp02's use"
pass "the file is read again when the server writes it"

# Gone at request time: the records last read stand (older, so still "at
# least this recent") and the answer names the file.
mv "$LAST_USE" "$LAST_USE.moved"
answer=$(api GET /api/v1/clients)
expect_eq "${answer%% *}" 200 "the list with the file gone"
expect_contains "$answer" "\"last_use_errors\":[\"$LAST_USE: cannot open (No such file or directory)\"]" \
    "the file gone, named"
expect_eq "$(last_use_of myapp01)" "$recorded" "myapp01 with the file gone"
mv "$LAST_USE.moved" "$LAST_USE"
expect_contains "$(api GET /api/v1/clients)" '"last_use_errors":[]' "the file back"
pass "a file gone at request time is named in last_use_errors, not a 500"

stop_console_cleanly
start_console
console_login
expect_not_contains "$(api GET /api/v1/clients)" "last_use" "without --last-use"
answer=$(api GET '/api/v1/clients?unused=1d')
expect_eq "${answer%% *}" 400 "unused= without --last-use"
expect_contains "$answer" "keytool serve --last-use FILE" "unused= without --last-use names the fix"
pass "without --last-use: no last_use, and unused= answers 400 with the fix"

expect_clean_error_log ./myapp01_token ./myapp02_token
expect_no_secret_in_console_log ./myapp01_token ./myapp02_token
