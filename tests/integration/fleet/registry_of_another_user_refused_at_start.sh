# Review 4, M-1: in a sticky directory others may write (/tmp: here a copy
# of one in $WORK), a local user can make the registry's directory DIR
# before keyauth-sync does. keyauth-sync refuses it at start, before etcd is
# read (etcd is not even there), naming the owner, and fills nothing in it.
# (Names beside DIR another user makes first stop nothing:
# rebuild_not_stopped_by_another_users_directory.)
source "$FLEET_LIB"

nowhere="http://127.0.0.1:$(free_port)"  # no etcd: nothing may be read
make_shared_directory
shared=$SHARED
nobody="nobody (uid $(id -u nobody))"

# sync_refuses WHAT REGISTRY EXPECTED...: keyauth-sync exits 1 at start.
sync_refuses() {
    local what=$1 registry=$2 status=0 out expected
    shift 2
    out=$(timeout 20 "$KEYAUTH_SYNC" --etcd "$nowhere" --registry "$registry" 2>&1) || status=$?
    expect_eq "$status" 1 "keyauth-sync's exit status: $what (124: it went on to etcd)"
    for expected in "$@"; do
        expect_contains "$out" "$expected" "$what"
    done
    pass "$what: refused at start: $out"
}

# The registry's directory itself, made by nobody.
as_nobody mkdir -m 0755 "$shared/squatted"
sync_refuses "a registry directory nobody made" "$shared/squatted" \
    "registry $shared/squatted is owned by $nobody, neither root nor root (uid 0)"
expect_eq "$(ls -A "$shared/squatted")" "" "nothing written into nobody's directory"

# A whole registry nobody made: not even its lock is made in it.
as_nobody "$KEYTOOL" --registry "$shared/theirs" init >/dev/null || fail "nobody's keytool init"
before=$(ls -A "$shared/theirs")
sync_refuses "a registry nobody made" "$shared/theirs" \
    "registry $shared/theirs is owned by $nobody"
expect_eq "$(ls -A "$shared/theirs")" "$before" "nothing written into nobody's registry"
