#!/bin/bash
# The registry directory removed and made anew under running workers: within
# a second the new registry's clients are admitted and the old ones refused,
# by every worker; with no registry at all, every request fails closed (500,
# as for an unreadable registry: the fault is the server's, not the token's).
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen old --output ./old >/dev/null
start_protected_proxy

# statuses TOKEN_FILE: the sorted distinct "STATUS WORKER" of 20 requests.
statuses() {
    for _ in $(seq 20); do
        status_and_worker "$URL" -H "Authorization: Bearer `cat "$1"`"
    done | sort -u
}
expect_eq "$(statuses ./old_token | cut -d' ' -f1 | sort -u)" "200" "old client before"

mv "$KEYAUTH_REGISTRY" "$WORK/registry.old"
init_registry
keytool gen new --output ./new >/dev/null
sleep 1

after_new=$(statuses ./new_token)
expect_eq "$(cut -d' ' -f1 <<<"$after_new" | sort -u)" "200" "new client after the swap"
expect_eq "$(cut -d' ' -f2 <<<"$after_new" | sort -u | wc -l)" "2" "workers admitting the new client"
after_old=$(statuses ./old_token)
expect_eq "$(cut -d' ' -f1 <<<"$after_old" | sort -u)" "401" "old client after the swap"
expect_eq "$(cut -d' ' -f2 <<<"$after_old" | sort -u | wc -l)" "2" "workers refusing the old client"
pass "a recreated registry is picked up by both workers within a second"
expect_clean_error_log ./old_token ./new_token

rm -rf "$KEYAUTH_REGISTRY"
sleep 1
expect_eq "$(statuses ./new_token | cut -d' ' -f1 | sort -u)" "500" "with the registry gone"
pass "with the registry gone, every request fails closed"
