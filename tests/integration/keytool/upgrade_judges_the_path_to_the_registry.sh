#!/bin/bash
# keytool upgrade skips only the format check it is there to fix: the path
# to the registry is judged as every opening judges it. A registry of keyauth
# 0.1 under a directory its group or others may write (who could rename the
# registry away and put their own there) is refused, by root, and by the
# servers' group, which is told why rather than that root may upgrade it;
# nothing is upgraded. Made safe again, it is upgraded.
source "$TESTLIB"
as_group() { setpriv --reuid=nobody --regid=mosquitto --clear-groups "$@"; }

mkdir -m 777 "$WORK/shared"
export KEYAUTH_REGISTRY="$WORK/shared/registry"
tar -xzf "$(dirname "$0")/../../fixtures/registry-0.1.0.tar.gz" -C "$WORK/shared" registry
chgrp -R mosquitto "$KEYAUTH_REGISTRY"
chmod 2750 "$KEYAUTH_REGISTRY"
install -m 660 -g mosquitto /dev/null "$KEYAUTH_REGISTRY/lock.mdb"
before=$(tree_snapshot "$KEYAUTH_REGISTRY")

for mode in 777 775 757; do
    chmod "$mode" "$WORK/shared"
    out=$(keytool upgrade 2>&1) && fail "keytool upgrade under a directory of mode $mode: $out"
    expect_contains "$out" "$WORK/shared is writable by its group or others" "upgrade under mode $mode"
    out=$(as_group "$KEYTOOL" upgrade 2>&1) && fail "the group upgraded under mode $mode: $out"
    expect_contains "$out" "$WORK/shared is writable by its group or others" \
        "the group's upgrade under mode $mode"
done
expect_eq "$(tree_snapshot "$KEYAUTH_REGISTRY")" "$before" "the registry after the refused upgrades"
pass "an upgrade under a directory its group or others may write is refused, saying why"

chmod 755 "$WORK/shared"
out=$(keytool upgrade 2>&1) || fail "keytool upgrade once the path is safe: $out"
[ -e "$KEYAUTH_REGISTRY/lookup.idx" ] || fail "no lookup.idx after the upgrade"
pass "the path made safe, the registry is upgraded"
