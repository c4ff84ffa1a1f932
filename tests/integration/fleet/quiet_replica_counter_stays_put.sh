# A fleet host whose clients do not change leaves its registry alone: the
# commit counter every server reads (commit.seq) stays put, so NGINX keeps
# its caches and the broker does not re-check its live sessions. keyauth-sync
# used to commit its heartbeat ("last contact", every 10 s) and the etcd
# revision it takes when only keys outside /keyauth/ were written (every
# digest check) to LMDB, and every such commit emptied every server's caches
# and made the broker re-check every session. Yet `keytool status` still
# shows a recent contact and etcd's revision, and a real change still moves
# the counter.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
admin_gen alice bob
DIGEST_INTERVAL=2 start_host 1
start_broker 1
subscribe 1 alice:quiet ./alice_token
registry=$(host_dir 1)
counter() { od -An -tu8 -j8 -N8 "$registry/commit.seq" | tr -d ' '; }
rechecks() { grep -c "re-checking" "$WORK/broker1.log" || true; }
status_revision() { keytool --registry "$registry" status | awk '/^etcd revision:/ {print $3}'; }
status_revision_is() { [ "$(status_revision)" == "$1" ]; }
wait_until 10 "host 1 at etcd's revision" status_revision_is "$(etcd_revision)"
# The registry's group (not its owner: a monitoring user) may not take
# writer.lock to read LMDB: keytool status reads keyauth-sync's contact
# file, written with the load itself, not at the first heartbeat.
as_group() { setpriv --reuid=nobody --regid=mosquitto --clear-groups "$@"; }
out=$(as_group "$KEYTOOL" --registry "$registry" status) || fail "keytool status as the registry's group, after the load: $out"
expect_contains "$out" "state:         current" "the group's keytool status after the load"
sleep 1  # the broker's first look at its new session (every 50 ms) counts as a re-check

before=$(counter)
rechecks_before=$(rechecks)
# 30 s: three heartbeats' worth of contact, and etcd's revision moved by
# writes elsewhere in etcd (a host publishing last use, another program).
for i in 1 2 3 4 5 6; do
    etcdctl --endpoints "$ETCD" put "/elsewhere/key$i" "value$i" >/dev/null
    sleep 5
done
expect_eq "$(counter)" "$before" "commit.seq after 30 s without a client change"
expect_eq "$(rechecks)" "$rechecks_before" "the broker's session re-checks"
session_alive alice:quiet || fail "alice's session ended"
out=$(keytool --registry "$registry" status) || fail "keytool status: $out"
expect_contains "$out" "state:         current" "keytool status"
age=$(sed -n 's/^last contact: .*(\([0-9-]*\) s ago)$/\1/p' <<<"$out")
[ -n "$age" ] && [ "$age" -ge 0 ] && [ "$age" -lt 15 ] || fail "last contact not within 15 s: $out"
expect_eq "$(status_revision)" "$(etcd_revision)" "the revision keytool status shows (etcd's)"
# The group gets the same from the contact file: LMDB's own contact is 30 s old.
owners=$out
out=$(as_group "$KEYTOOL" --registry "$registry" status) || fail "keytool status as the registry's group: $out"
expect_contains "$out" "state:         current" "keytool status as the registry's group"
expect_contains "$out" "read as:       the registry's group: as keyauth-sync last recorded it" "the group's status says what it read"
for line in "clients:" "etcd revision:" "etcd cluster:" "fleet id:"; do
    expect_eq "$(grep "^$line" <<<"$out")" "$(grep "^$line" <<<"$owners")" "the group's '$line'"
done
pass "30 s without a client change: commit.seq stays at $before, no session re-checked; contact $age s ago, at etcd's revision, for the registry's group too"

# A contact file keytool status may not believe (another's, a link): said,
# not silently LMDB's older contact instead.
cp -p "$registry/fleet-contact" "$WORK/contact"
ln -sf "$WORK/contact" "$registry/fleet-contact"
out=$(keytool --registry "$registry" status) && fail "keytool status current on LMDB's 30 s old contact: $out"
expect_contains "$out" "state:         STALE" "keytool status on a linked contact file"
expect_contains "$out" "contact file:  unreadable: $registry/fleet-contact is a symbolic link" "keytool status on a linked contact file"
out=$(as_group "$KEYTOOL" --registry "$registry" status) && fail "the group's keytool status current through a link: $out"
expect_contains "$out" "state:         UNKNOWN" "the group's keytool status on a linked contact file"
expect_contains "$out" "is a symbolic link" "the group's keytool status says why"
wait_until 15 "the contact file written again" test ! -L "$registry/fleet-contact"
out=$(keytool --registry "$registry" status) || fail "keytool status after the heartbeat: $out"
expect_not_contains "$out" "contact file:" "keytool status after the heartbeat"
pass "a contact file as a link: keytool status says so; the next heartbeat replaces it"

admin del bob >/dev/null
wait_on_host 1 refused ./bob_token 5
[ "$(counter)" -gt "$before" ] || fail "commit.seq did not move with a del"
pass "a del still moves commit.seq ($before -> $(counter)) and is refused"

# Changes more often than every 10 s: each commit carries contact in LMDB,
# and the file is still rewritten every 10 s for the group.
for i in $(seq 8); do
    admin gen "steady$i" --output "./steady$i" >/dev/null || fail "admin gen steady$i"
    sleep 3
done
out=$(as_group "$KEYTOOL" --registry "$registry" status) || fail "the group's keytool status under steady changes: $out"
age=$(sed -n 's/^last contact: .*(\([0-9-]*\) s ago)$/\1/p' <<<"$out")
[ -n "$age" ] && [ "$age" -lt 15 ] || fail "the group's last contact not within 15 s under steady changes: $out"
pass "a change every 3 s for 24 s: the group's keytool status current (contact $age s ago)"
