# keyauth-sync --metrics: Prometheus text that follows what the host serves
# (revisions, clients, changes applied, rebuilds), and /healthz answering 200
# while etcd answers and 503 once it has not for --health-max-stale, or while
# the host is HELD. Bad addresses are refused before anything starts.
source "$FLEET_LIB"
start_etcd_cluster
admin init >/dev/null
admin_gen alice bob

out=$("$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$WORK/unused" --metrics 127.0.0.1 2>&1) &&
    fail "--metrics without a port accepted"
expect_contains "$out" "--metrics needs ADDR:PORT" "the refusal says what is wanted"
out=$("$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$WORK/unused" --metrics localhost:9 2>&1) &&
    fail "--metrics with a host name accepted"
expect_contains "$out" "--metrics needs ADDR:PORT" "names are not looked up"
[ ! -e "$WORK/unused" ] || fail "a refused start made a registry"
pass "--metrics refuses what is not ADDR:PORT, before anything starts"

port=$(free_port)
start_host 1 --metrics "127.0.0.1:$port" --health-max-stale 3
metrics() { curl -s "http://127.0.0.1:$port/metrics"; }
value() { metrics | awk -v name="$1" '$1 == name {print $2}'; }
value_is() { [ "$(value "$1")" == "$2" ]; }
wait_until 10 "the host's metrics to show etcd's revision" value_is keyauth_sync_applied_revision "$(etcd_revision)"
expect_eq "$(value keyauth_sync_clients)" 2 "clients"
expect_eq "$(value keyauth_sync_held)" 0 "not held"
expect_contains "$(metrics)" "# TYPE keyauth_sync_rebuilds_total counter" "Prometheus text"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" 200 "healthy"
pass "metrics: the revision served is etcd's, 2 clients; /healthz 200"

applied=$(value keyauth_sync_changes_applied_total)
admin del bob >/dev/null
wait_until 10 "the del applied" value_is keyauth_sync_applied_revision "$(etcd_revision)"
expect_eq "$(value keyauth_sync_clients)" 1 "clients after the del"
expect_eq "$(value keyauth_sync_changes_applied_total)" "$((applied + 1))" "one change applied"
# The CA certificate written again (the same PEM, a new revision): applied,
# but no client changed.
etcdctl --endpoints "$ETCD" get /keyauth/ca_cert -w json |
    python3 -c 'import base64, json, sys; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["kvs"][0]["value"]))' >ca_again.pem
etcdctl --endpoints "$ETCD" put /keyauth/ca_cert <ca_again.pem >/dev/null
wait_until 10 "the CA certificate's revision applied" value_is keyauth_sync_applied_revision "$(etcd_revision)"
expect_eq "$(value keyauth_sync_changes_applied_total)" "$((applied + 1))" "a CA certificate is no client change"
kill -USR1 "${SYNC_PID[1]}"
wait_until 20 "a rebuild counted" value_is keyauth_sync_rebuilds_total 1
pass "metrics: a del applied and counted, a rebuild counted"

# etcd gone (every member stopped, then started again): the host serves on, and says it is stale.
for i in 1 2 3; do stop_member "$i"; done
stale() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" == 503 ]; }
wait_until 20 "/healthz to answer 503" stale
expect_contains "$(curl -s "http://127.0.0.1:$port/healthz")" "STALE: no contact with etcd for" "why"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" 405 "GET only"
for i in 1 2 3; do start_member "$i"; done
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" == 200 ]; }
wait_until 30 "/healthz 200 again" healthy
pass "/healthz: 503 STALE while etcd is stopped, 200 once it answers again"
