#!/bin/bash
# keytool upgrade (what the package's configure runs): a registry of keyauth
# 0.1 (tests/fixtures: alice and bob registered; lock.mdb group-writable, no
# lookup.idx) is refused to the servers' group until its owner runs it; it
# prints nothing, and after it the group verifies alice's 0.1 token. A
# second run changes nothing. Another writer holding writer.lock makes it give
# up within its 5 s wait, saying so; the group may not run it.
source "$TESTLIB"
as_group() { setpriv --reuid=nobody --regid=mosquitto --clear-groups "$@"; }

tar -xzf "$(dirname "$0")/../../fixtures/registry-0.1.0.tar.gz"
chgrp -R mosquitto "$KEYAUTH_REGISTRY"
chmod 2750 "$KEYAUTH_REGISTRY"
install -m 660 -g mosquitto /dev/null "$KEYAUTH_REGISTRY/lock.mdb"
chmod 644 alice_token

out=$(as_group "$KEYTOOL" verify - <alice_token 2>&1) && fail "the group read a 0.1 registry: $out"
expect_contains "$out" "made by an older keyauth and has no lookup.idx" "the group before the upgrade"
out=$(as_group "$KEYTOOL" upgrade 2>&1) && fail "the group upgraded the registry: $out"
expect_contains "$out" "only its owner can upgrade it" "upgrade by the group"
[ -e "$KEYAUTH_REGISTRY/lock.mdb" ] || fail "the group's refused upgrade changed the registry"
pass "a 0.1 registry is refused to the servers' group, which may not upgrade it"

out=$(keytool upgrade 2>&1) || fail "keytool upgrade: $out"
expect_eq "$out" "" "what keytool upgrade prints"
[ ! -e "$KEYAUTH_REGISTRY/lock.mdb" ] || fail "lock.mdb left after the upgrade"
[ -e "$KEYAUTH_REGISTRY/lookup.idx" ] || fail "no lookup.idx after the upgrade"
out=$(as_group "$KEYTOOL" verify - <alice_token 2>&1) || fail "the group after the upgrade: $out"
expect_contains "$out" "valid: client alice" "alice's 0.1 token, as the group"
before=$(tree_snapshot "$KEYAUTH_REGISTRY")
keytool upgrade || fail "a second keytool upgrade"
expect_eq "$(tree_snapshot "$KEYAUTH_REGISTRY")" "$before" "the registry after a second upgrade"
pass "keytool upgrade, silent, makes the registry readable by the group; again, it changes nothing"

# Another writer holds writer.lock longer than keytool waits.
hold_writer_lock "$KEYAUTH_REGISTRY" 30
start=$(date +%s%N)
out=$(keytool upgrade 2>&1) && fail "keytool upgrade beside another writer: $out"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_contains "$out" "registry is busy" "keytool upgrade beside another writer"
# About 5 s (500 tries 10 ms apart: more on a loaded machine), never the holder's 30.
[ "$elapsed_ms" -lt 20000 ] || fail "keytool upgrade waited ${elapsed_ms} ms for the lock"
pass "beside another writer it gives up after its wait (${elapsed_ms} ms), saying the registry is busy"
