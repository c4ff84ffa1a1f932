#!/bin/bash
# A process running as www-data (NGINX's workers, PHP-FPM, a web app) can read
# the registry and nothing more: it cannot resurrect a deleted or replaced
# token, and cannot block keytool.
source "$(dirname "$0")/../nginx/nginx_lib.sh"
source "$(dirname "$0")/trust_lib.sh"

init_registry
keytool gen carol --output ./carol >/dev/null
keytool gen dave --output ./dave >/dev/null
start_protected_proxy
bearer() { echo "Authorization: Bearer $(cat "$1")"; }

expect_eq "$(curl_status_body "$URL" -H "$(bearer ./carol_token)")" "200 client=carol" "carol before del"
expect_eq "$(keytool del carol)" "deleted" "keytool del"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL" -H "$(bearer ./carol_token)")" "401" "carol after del"

expect_registry_read_only_for www-data
pass "www-data can write nothing in the registry"

# Every lock www-data can take, held while keytool writes.
hold_every_lock www-data
keytool_within 5 gen erin --output ./erin
cp ./dave_token ./dave_token.old
keytool_within 5 gen dave --force --output ./dave
keytool_within 5 init --host 127.0.0.1 --host localhost
pass "keytool gen, gen --force and init while www-data holds every lock it can take"

expect_eq "$(curl_status_body "$URL" -H "$(bearer ./erin_token)")" "200 client=erin" "new client"
expect_eq "$(curl_status_body "$URL" -H "$(bearer ./dave_token)")" "200 client=dave" "replaced client, new token"
for old in ./carol_token ./dave_token.old; do
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL" -H "$(bearer "$old")")" "401" "$old stays refused"
done
listed=$(keytool list)
expect_not_contains "$listed" "carol" "keytool list after the attempts"
pass "deleted and replaced tokens stay refused; the next write loses nothing"
expect_clean_error_log ./carol_token ./dave_token ./erin_token
