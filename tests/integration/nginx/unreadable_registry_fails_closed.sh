#!/bin/bash
# A registry the workers cannot read: "nginx -t" refuses it, naming the file
# and the workers' user. One that becomes unreadable under running workers:
# they say why in the error log and refuse every protected request with 500
# (fail closed) until the registry is readable; then requests pass, with no
# reload.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
chmod 700 "$KEYAUTH_REGISTRY"          # www-data may no longer enter it
if out=$(nginx_test "$(protected_server "$(free_port)" "$(free_port)")"); then
    fail "nginx -t passed a registry the workers cannot read"
fi
expect_contains "$out" "keyauth registry \"$KEYAUTH_REGISTRY\" is not readable by \"www-data\"" "nginx -t"
chmod 2750 "$KEYAUTH_REGISTRY" && chgrp root "$KEYAUTH_REGISTRY/lookup.idx"
out=$(nginx_test "$(protected_server "$(free_port)" "$(free_port)")") && fail "nginx -t passed an unreadable lookup.idx"
expect_contains "$out" "keyauth registry \"$KEYAUTH_REGISTRY/lookup.idx\" is not readable" "nginx -t names the file"
chgrp www-data "$KEYAUTH_REGISTRY/lookup.idx"
pass "nginx -t: registry unreadable by the workers refused, naming the file"

start_protected_proxy
# Replaced by a copy the workers cannot enter (a new inode: they reopen it).
cp -a "$KEYAUTH_REGISTRY" "$WORK/copy"
chmod 700 "$WORK/copy"
mv "$KEYAUTH_REGISTRY" "$WORK/old" && mv "$WORK/copy" "$KEYAUTH_REGISTRY"
sleep 0.3    # readers look for a replaced registry every 200 ms

for _ in $(seq 6); do
    out=$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")
    expect_eq "${out%% *}" "500" "token with an unreadable registry"
    expect_not_contains "$out" "client=" "unreadable registry reached the upstream"
done
expect_contains "$(cat "$NGX_ERROR_LOG")" "keyauth: registry \"$KEYAUTH_REGISTRY\" unreadable, token refused" "error log"
pass "unreadable registry: 500, and the error log says why"

chmod 2750 "$KEYAUTH_REGISTRY"
sleep 0.3
for _ in $(seq 6); do
    expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer `cat ./myapp01_token`")" \
        "200 client=myapp01" "token once the registry is readable"
done
pass "readable again: accepted, without a reload"

expect_clean_error_log ./myapp01_token
