# keytool serve --etcd: the console works on the fleet's registry of record.
# Generate, suspend, rotate and delete through /api/v1 land in etcd (keytool
# --etcd list says so), are audited with etcd's revision, and a host's replica
# follows each one; the console of that replica, without --etcd, lists its
# clients but refuses every change (409, naming --etcd).
source "$FLEET_LIB"
source "$(dirname "$FLEET_LIB")/../console/console_lib.sh"
source "$(dirname "$TESTLIB")/syslog_sink.sh"
start_syslog_sink
start_etcd_cluster
admin init >/dev/null
start_host 1

# fleet_state ID: the client's state in etcd, by keytool --etcd list.
fleet_state() {
    admin list --json | python3 -c '
import json, sys
from datetime import datetime, timezone
for c in json.load(sys.stdin):
    if c["id"] == sys.argv[1]:
        print("suspended" if c.get("suspended") else "listed")
        break
else:
    print("absent")' "$1"
}

start_console --registry "$ADMIN" --etcd "$ETCD"
expect_contains "$(cat "$CONSOLE_LOG")" "console of the fleet's registry in etcd, CA key in $ADMIN" "serve's banner"
console_login
create_client alice
expect_eq "$(fleet_state alice)" "listed" "alice in etcd after POST /api/v1/clients"
mod=$(etcdctl --endpoints "$ETCD" get /keyauth/clients/alice -w fields | awk -F' : ' '/"ModRevision"/ {print $2}')
expect_contains "$(audit_line 'action=gen client=alice result=ok')" \
    "via=console session=" "the console's gen"
expect_contains "$(audit_line 'action=gen client=alice result=ok')" \
    "revision=$mod registry=$ADMIN etcd=yes days=1095 serial=" "the console's gen, with etcd's revision"
[ ! -e "$ADMIN/lookup.idx" ] || ! keytool --registry "$ADMIN" show alice >/dev/null 2>&1 \
    || fail "the console wrote alice into the administrator's local registry"
wait_on_host 1 valid ./alice_token
answer=$(api GET /api/v1/clients/alice)
expect_eq "${answer%% *}" 200 "GET /api/v1/clients/alice from etcd"
expect_contains "$answer" '"state":"active"' "alice shown from etcd"
answer=$(api GET '/api/v1/clients?q=ali')
expect_contains "$answer" '"total":1' "the list from etcd"
pass "generated through the console: in etcd, audited with its revision, on the host"

answer=$(api POST /api/v1/clients/alice/suspend)
expect_eq "${answer%% *}" 200 "suspend"
expect_eq "$(fleet_state alice)" "suspended" "alice in etcd after suspend"
audit_line "action=suspend client=alice result=ok" >/dev/null
expect_contains "$(audit_line 'action=suspend client=alice result=ok')" "etcd=yes" "suspend audited as a fleet change"
wait_on_host 1 refused ./alice_token
expect_contains "$(api GET '/api/v1/clients?state=suspended')" '"id":"alice"' "the suspended filter, from etcd"
expect_eq "$(api POST /api/v1/clients/alice/resume | cut -d' ' -f1)" 200 "resume"
wait_on_host 1 valid ./alice_token
pass "suspended and resumed through the console: etcd and the host follow"

mkdir old && mv ./alice_token old/
answer=$(api POST /api/v1/clients/alice/rotate -H 'Content-Type: application/json' -d '{"grace":"0"}')
expect_eq "${answer%% *}" 201 "rotate"
printf '%s' "${answer#* }" | python3 -c '
import json, sys
for f in json.load(sys.stdin)["files"]:
    if f["name"] == "alice_token":
        open("alice_token", "w").write(f["contents"])'
wait_on_host 1 valid ./alice_token
wait_on_host 1 refused old/alice_token
expect_contains "$(audit_line 'action=rotate client=alice result=ok')" "etcd=yes" "rotate audited as a fleet change"
pass "rotated through the console: the new token on the host, the old one refused"

# The replica's own console: it lists, and refuses changes it could not keep.
FLEET_CONSOLE_PID=$CONSOLE_PID FLEET_CONSOLE=$CONSOLE FLEET_SESSION=$SESSION FLEET_SECRET=$LOGIN_SECRET CONSOLE_PID=
at_exit "kill $FLEET_CONSOLE_PID 2>/dev/null"
CONSOLE_LOG=$WORK/replica-console.log
start_console --registry "$(host_dir 1)"
console_login
answer=$(api GET /api/v1/clients)
expect_eq "${answer%% *}" 200 "the replica's console lists"
expect_contains "$answer" '"id":"alice"' "the replica's list"
for change in "POST /api/v1/clients -H Content-Type:application/json -d {\"id\":\"bob\"}" \
    "POST /api/v1/clients/alice/suspend" "DELETE /api/v1/clients/alice" \
    "POST /api/v1/clients/alice/rotate -H Content-Type:application/json -d {}"; do
    # shellcheck disable=SC2086
    answer=$(api $change)
    expect_eq "${answer%% *}" 409 "$change on a replica without --etcd"
    expect_contains "$answer" '"error":"' "$change: the usual JSON error"
    expect_contains "$answer" "is a replica kept by keyauth-sync" "$change's refusal"
    expect_contains "$answer" "keytool --etcd ENDPOINTS" "$change's refusal names --etcd"
done
expect_eq "$(fleet_state bob)" "absent" "bob after the replica's refusal"
expect_eq "$(fleet_state alice)" "listed" "alice after the replica's refusals"
host_verify 1 ./alice_token || fail "the replica's refusals changed alice on the host"
expect_contains "$(audit_line 'action=del client=alice result=failed')" "is a replica kept by keyauth-sync" "a refusal audited"
stop_console
pass "the replica's console without --etcd: lists, refuses changes with 409 naming --etcd"

CONSOLE_PID=$FLEET_CONSOLE_PID CONSOLE=$FLEET_CONSOLE SESSION=$FLEET_SESSION LOGIN_SECRET=$FLEET_SECRET
CONSOLE_LOG=$WORK/console.log
answer=$(api DELETE /api/v1/clients/alice)
expect_eq "${answer%% *}" 200 "delete"
expect_eq "$(fleet_state alice)" "absent" "alice in etcd after delete"
expect_eq "$(etcd_ids)" "" "etcd's ids after delete"
expect_contains "$(audit_line 'action=del client=alice result=ok')" "revision=$(etcd_revision) registry=$ADMIN etcd=yes" "del audited with etcd's revision"
wait_on_host 1 refused ./alice_token
expect_eq "$(api GET /api/v1/clients/alice | cut -d' ' -f1)" 404 "alice shown after delete"
pass "deleted through the console: gone from etcd and refused on the host"
