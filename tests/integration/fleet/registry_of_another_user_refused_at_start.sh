# Review 4, M-1: beside a registry in a sticky directory others may write
# (/tmp: here a copy of one in $WORK), a local user can make DIR.sync.lock,
# DIR.rebuild or DIR itself before keyauth-sync does. keyauth-sync refuses
# each at start, before etcd is read (etcd is not even there), naming the
# owner, and leaves what it does not own as it is: it neither waits on a
# lock held by "another keyauth-sync", nor removes a tree that is not its
# own, nor fills a directory someone else owns.
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

# A lock nobody made and holds.
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    flock --no-fork "$shared/held.sync.lock" sleep 60 &  # one process: $! is the holder
locker=$!
at_exit "kill $locker 2>/dev/null"
for _ in $(seq 1 100); do [ -e "$shared/held.sync.lock" ] && break; sleep 0.05; done
sync_refuses "a lock nobody made" "$shared/held" \
    "lock $shared/held.sync.lock is owned by $nobody, not a file of root (uid 0) who runs keyauth-sync"
[ ! -e "$shared/held" ] || fail "keyauth-sync went on past nobody's lock"

# A rebuild's directory nobody made, with a file of nobody's in it.
as_nobody mkdir "$shared/rebuilt.rebuild"
as_nobody touch "$shared/rebuilt.rebuild/kept"
sync_refuses "a rebuild nobody made" "$shared/rebuilt" \
    "$shared/rebuilt.rebuild is owned by $nobody, not by root (uid 0) who runs keyauth-sync"
[ -e "$shared/rebuilt.rebuild/kept" ] || fail "keyauth-sync removed nobody's files"

# The registry's directory itself, made by nobody.
as_nobody mkdir -m 0755 "$shared/squatted"
sync_refuses "a registry directory nobody made" "$shared/squatted" \
    "registry $shared/squatted is owned by $nobody, neither root nor root (uid 0)"
expect_eq "$(ls -A "$shared/squatted")" "" "nothing written into nobody's directory"
