# A registry path that is a symbolic link (/var/lib/keyauth -> /srv/keyauth,
# say): keyauth-sync resolves it at start and replaces the directory the
# link names, so the link stays and the registry stays where it was put.
# Without that, the first load's exchange moved the link itself: the path
# became a real directory beside it and the target was left behind, stale.
source "$FLEET_LIB"

start_fleet alice bob
target="$WORK/volume/keyauth"
mkdir -p "$target"
ln -s "$target" "$(host_dir 1)"

start_host 1
wait_on_host 1 valid ./alice_token 30
[ -L "$(host_dir 1)" ] || fail "$(host_dir 1) is no longer a link after the load"
[ -f "$target/data.mdb" ] && [ -f "$target/lookup.idx" ] ||
    fail "the registry is not in $target: $(ls -A "$target")"
grep -q "registry $(host_dir 1) is a symbolic link: $target is the directory replaced" \
    "$WORK/sync1.log" || fail "the link not said: $(cat "$WORK/sync1.log")"
pass "a first load through a link fills the directory it names; the link stays"

# A rebuild (SIGUSR1) exchanges the directory the link names, and a del
# after it reaches the servers through the link.
kill -USR1 "${SYNC_PID[1]}"
wait_until 30 "the rebuild" grep -q "rebuilt the registry" "$WORK/sync1.log"
[ -L "$(host_dir 1)" ] || fail "$(host_dir 1) is no longer a link after the rebuild"
admin del bob >/dev/null
wait_on_host 1 refused ./bob_token 10
wait_on_host 1 valid ./alice_token
leftovers=$(ls -d "$(host_dir 1)".* "$target".* 2>/dev/null | grep -v '\.sync\.lock$' || true)
[ -z "$leftovers" ] || fail "left beside the registry: $leftovers"
pass "a rebuild through the link keeps it, and a del after it reaches the host"

# A link to nothing: refused at start, saying so.
ln -s "$WORK/nowhere" "$(host_dir 2)"
status=0
out=$(timeout 20 "$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir 2)" 2>&1) || status=$?
expect_eq "$status" 1 "keyauth-sync's exit status on a link to nothing"
expect_contains "$out" "registry $(host_dir 2) is a symbolic link to no directory" "the refusal"
pass "a registry link to nothing refused at start: $out"
