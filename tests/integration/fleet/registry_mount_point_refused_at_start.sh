# keyauth-sync replaces its registry directory as a whole: a load and a
# rebuild fill DIR.rebuild.XXXXXX beside it and exchange the two with
# renameat2(RENAME_EXCHANGE), which fails when DIR is a mount point (EBUSY)
# or its parent cannot be written. Both are refused at start, before etcd is
# read (here etcd is not even there), naming the directory and what to do,
# not after a fill of minutes with an errno. The mount point is a bind mount
# of a directory onto itself (as systemd's ReadWritePaths=DIR makes one);
# the parent that cannot be written is a read-only bind mount.
source "$FLEET_LIB"

mount_here() {
    mount "$@" 2>"$WORK/mount.err" ||
        { echo "skip: mount $* not permitted here: $(cat "$WORK/mount.err")"; exit 77; }
}

nowhere="http://127.0.0.1:$(free_port)"  # no etcd: nothing may be read

dir=$(host_dir 1)
mkdir "$dir"
mount_here --bind "$dir" "$dir"
at_exit "umount '$dir' 2>/dev/null"
status=0
out=$(timeout 20 "$KEYAUTH_SYNC" --etcd "$nowhere" --registry "$dir" --group mosquitto 2>&1) ||
    status=$?
expect_eq "$status" 1 "keyauth-sync's exit status on a mount point (124: it went on to etcd)"
expect_contains "$out" "registry $dir is replaced as a whole" "the refusal"
expect_contains "$out" "$dir must not be a mount point" "the refusal"
expect_contains "$out" "set KEYAUTH_REGISTRY / --registry to a directory inside it" "the refusal"
[ -z "$(ls -A "$dir")" ] || fail "keyauth-sync wrote into the mount point: $(ls -A "$dir")"
pass "a registry that is a mount point refused at start, before etcd: $out"

parent="$WORK/read-only"
mkdir -p "$parent/registry"
mount_here --bind "$parent" "$parent"
at_exit "umount '$parent' 2>/dev/null"
mount_here -o remount,bind,ro "$parent"
status=0
out=$(timeout 20 "$KEYAUTH_SYNC" --etcd "$nowhere" --registry "$parent/registry" 2>&1) ||
    status=$?
expect_eq "$status" 1 "keyauth-sync's exit status under a read-only parent"
expect_contains "$out" "cannot create in $parent (Read-only file system)" "the refusal"
expect_contains "$out" "ReadWritePaths=$parent" "the refusal"
pass "a registry whose parent cannot be written refused at start, before etcd: $out"

# The same directory, no longer a mount point: loaded as ever.
umount "$dir"
start_fleet alice
start_host 1
wait_on_host 1 valid ./alice_token
pass "the same directory unmounted: keyauth-sync loads it"
