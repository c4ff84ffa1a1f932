# keytool --etcd's changes are audited like a host's, with the etcd revision
# each write got: the trail and etcd's history name the same change.
source "$FLEET_LIB"
source "$(dirname "$TESTLIB")/syslog_sink.sh"
start_syslog_sink
start_etcd_cluster
who="user=$(id -un) uid=$(id -u)"

admin init >/dev/null
line=$(audit_line 'action=init result=ok')
expect_contains "$line" "$who via=cli revision=" "init's line"
expect_contains "$line" "registry=$ADMIN etcd=yes ca=new fleet_id=" "init's line"
fleet_id=$(etcdctl --endpoints "$ETCD" get /keyauth/fleet_id --print-value-only)
expect_contains "$line" "fleet_id=$fleet_id" "init's line names the fleet"
pass "init --etcd: the fleet id and the revision that wrote it"

admin_gen alice
mod=$(etcdctl --endpoints "$ETCD" get /keyauth/clients/alice -w fields | awk -F' : ' '/"ModRevision"/ {print $2}')
[ -n "$mod" ] || fail "alice is not in etcd"
expect_contains "$(audit_line 'action=gen client=alice result=ok')" \
    "$who via=cli revision=$mod registry=$ADMIN etcd=yes days=1095 serial=" "gen's line"
pass "gen --etcd: revision=$mod, alice's ModRevision in etcd"

out=$(admin gen alice --output ./alice2 2>&1) && fail "a second gen alice succeeded"
line=$(audit_line 'action=gen client=alice result=failed')
expect_contains "$line" "already exists" "a refused gen's words"
expect_not_contains "$line" "revision=" "a refused gen made no revision"

admin del alice >/dev/null
expect_contains "$(audit_line 'action=del client=alice result=ok')" \
    "revision=$(etcd_revision) registry=$ADMIN etcd=yes" "del's line"
admin del alice 2>/dev/null && fail "alice deleted twice"
audit_line 'action=del client=alice result=failed' >/dev/null
expect_audit_count 5
expect_never_logged ./alice_token ./alice_key.pem
pass "del --etcd: the revision of the delete; refusals without one; no secret"

# A host's keyauth-sync: one line for its first load, one per change applied,
# with the revision etcd gave it.
start_host 1
expect_contains "$(audit_line 'action=fleet-apply result=ok')" \
    "via=sync revision=$(etcd_revision) change=load clients=0" "the host's first load"
admin_gen bob
mod=$(etcdctl --endpoints "$ETCD" get /keyauth/clients/bob -w fields | awk -F' : ' '/"ModRevision"/ {print $2}')
expect_contains "$(audit_line 'action=fleet-apply client=bob result=ok')" \
    "via=sync revision=$mod change=put registry=$(host_dir 1)" "bob's put applied on host 1"
admin del bob >/dev/null
expect_contains "$(audit_line "via=sync revision=$(etcd_revision) change=del registry=$(host_dir 1)")" \
    "action=fleet-apply client=bob result=ok" "bob's del applied on host 1"
expect_never_logged ./bob_token ./bob_key.pem
pass "keyauth-sync: its load and each change applied, with etcd's revision"
