# Review 4, M-1: whoever creates a registry's directory first owns it. In a
# sticky directory anyone may write (/tmp, /var/tmp, /dev/shm; here a copy
# of one in $WORK), a local user makes the name before root's keytool init:
# init must not adopt it, and no writer may use a registry that is neither
# root's nor its own (its owner could have put in its own CA and clients).
source "$TESTLIB"

make_nobodys_registry
shared=$SHARED
nobody="nobody (uid $(id -u nobody))"

# root_gen_refused REGISTRY EXPECTED: root's keytool gen adds no client.
root_gen_refused() {
    local status=0
    out=$(keytool --registry "$1" gen alice --output ./alice 2>&1) || status=$?
    [ "$status" -ne 0 ] || fail "root's gen signed with nobody's CA"
    expect_contains "$out" "$2" "the refusal names the registry's owner"
    [ ! -e ./alice_token ] || fail "root's gen saved a token"
}

# Repro 1: nobody makes the directory; root's init refuses it.
as_nobody mkdir -m 0755 "$shared/squatted"
status=0
out=$(keytool --registry "$shared/squatted" init 2>&1) || status=$?
expect_eq "$status" 1 "keytool init's exit status on a directory nobody made"
expect_contains "$out" "registry $shared/squatted exists and is owned by $nobody, not by root (uid 0)" \
    "the refusal names the directory's owner"
expect_eq "$(ls -A "$shared/squatted")" "" "nothing written into nobody's directory"
pass "keytool init refuses a directory another user made first: $out"

# A symbolic link to it is judged by what it names.
ln -s "$shared/squatted" "$WORK/link"
keytool --registry "$WORK/link" init >/dev/null 2>&1 && fail "init through a link adopted nobody's directory"
pass "keytool init through a link to it refuses it too"

# Repro 2's registry: nobody's own, made by nobody's keytool. Root's
# keytool neither adds to it nor signs with nobody's CA.
root_gen_refused "$shared/theirs" "registry $shared/theirs is owned by $nobody, who made its path in $shared"
pass "root's keytool gen refuses a registry nobody made in a sticky directory: $out"

# Moved where nobody could not have made it: still nobody's, and root's
# keytool writes only root's registries or its own.
mv "$shared/theirs" "$WORK/moved"
root_gen_refused "$WORK/moved" "registry $WORK/moved is owned by $nobody, neither root nor root (uid 0)"
pass "root's keytool gen refuses a registry nobody owns: $out"
# Review 5, L-1: reading is not writing. Root reads it as the servers do
# (root may write any directory, which once sent its reads to the writer's
# path and so to the writer's refusal).
out=$(keytool --registry "$WORK/moved" list 2>&1) || fail "root's list of nobody's registry: $out"
expect_contains "$out" mallory "root's list of nobody's registry"
out=$(keytool --registry "$WORK/moved" show mallory 2>&1) || fail "root's show of nobody's client: $out"
out=$(keytool --registry "$WORK/moved" verify "$(cat "$shared/mallory_token")" 2>&1) ||
    fail "root's verify against nobody's registry: $out"
expect_eq "$(stat -c %U "$WORK/moved/data.mdb")" nobody "data.mdb still nobody's after root's reads"
mv "$WORK/moved" "$shared/theirs"
pass "root's list, show and verify read a registry nobody owns, as the servers do"

# Its owner still uses it; root's own registry beside it is root's to use.
as_nobody "$KEYTOOL" --registry "$shared/theirs" list | grep -q mallory || fail "nobody cannot list its own registry"
keytool --registry "$shared/roots" init >/dev/null
keytool --registry "$shared/roots" gen alice --output ./alice >/dev/null
pass "a registry's owner keeps using it; root's own registry in the same directory works"

# Nor does root's keytool check a token against nobody's clients.
status=0
out=$(keytool --registry "$shared/theirs" verify "$(cat "$shared/mallory_token")" 2>&1) || status=$?
[ "$status" -ne 0 ] || fail "root verified mallory's token against nobody's registry"
expect_contains "$out" "is owned by nobody" "the refusal"
pass "root's keytool verify refuses nobody's registry"
