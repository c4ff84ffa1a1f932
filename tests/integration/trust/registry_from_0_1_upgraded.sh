#!/bin/bash
# A registry made by keyauth 0.1 (tests/fixtures/registry-0.1.0.tar.gz:
# alice and bob registered, carol deleted): the servers refuse to read it
# until keytool upgrades it (any keytool command run as its owner); then every
# client is there and admitted, and no server user can write anything.
source "$(dirname "$0")/../nginx/nginx_lib.sh"
source "$(dirname "$0")/trust_lib.sh"

tar -xzf "$FIXTURES/registry-0.1.0.tar.gz"
chgrp -R www-data "$KEYAUTH_REGISTRY"
chmod 2750 "$KEYAUTH_REGISTRY"
# 0.1 made lock.mdb group-writable, for its readers.
install -m 660 -g www-data /dev/null "$KEYAUTH_REGISTRY/lock.mdb"

UP=$(free_port)
PORT=$(free_port)
out=$(nginx_test "$(upstream_server "$UP") $(protected_server "$PORT" "$UP")") &&
    fail "nginx -t accepted a 0.1 registry: $out"
expect_contains "$out" "was made by an older keyauth and has no lookup.idx" "nginx -t"
pass "a 0.1 registry is refused with the step that upgrades it"

data_inode=$(stat -c %i "$KEYAUTH_REGISTRY/data.mdb")
listed=$(keytool list)
expect_contains "$listed" "alice" "list after upgrade"
expect_contains "$listed" "bob" "list after upgrade"
expect_not_contains "$listed" "carol" "list after upgrade"
[ "$(stat -c %i "$KEYAUTH_REGISTRY/data.mdb")" != "$data_inode" ] ||
    fail "data.mdb kept its inode: a 0.1 server would go on reading it"
expect_mode "$KEYAUTH_REGISTRY/data.mdb" 640
expect_mode "$KEYAUTH_REGISTRY/commit.seq" 640
expect_eq "$(stat -c %G "$KEYAUTH_REGISTRY/commit.seq")" "www-data" "group of commit.seq"
expect_registry_read_only_for www-data
pass "keytool list upgraded it in place: same clients, lock.mdb gone"

start_nginx "$(upstream_server "$UP") $(protected_server "$PORT" "$UP")"
URL=http://127.0.0.1:$PORT/db/query
for client in alice bob; do
    expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer $(cat ./${client}_token)")" \
        "200 client=$client" "$client's 0.1 token"
done
keytool del bob >/dev/null
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL" -H "Authorization: Bearer $(cat ./bob_token)")" \
    "401" "bob after del"
expect_clean_error_log ./alice_token ./bob_token
pass "tokens issued by 0.1 keep working; deletions after the upgrade take effect"
