# What the fleet tests share, sourced instead of "$TESTLIB" (which it
# sources): a 3-member etcd cluster of our own on loopback ports, an
# administrator's registry (the CA key) at $ADMIN, and hosts 1..3, each a
# registry directory kept by its own keyauth-sync, some with a real broker
# (Debian's mosquitto user) and a real nginx (www-data) reading it.
#
#   start_etcd_cluster
#   admin init
#   start_host 1 && start_broker 1 && start_nginx 1
#   admin gen alice
#   wait_on_host 1 valid ./alice_token

source "$TESTLIB"
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/nginx.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/mosquitto.sh"
: "${KEYAUTH_SYNC:?KEYAUTH_SYNC must name the keyauth-sync binary}"

command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
    { echo "skip: etcd-server and etcd-client are not installed"; exit 77; }
[ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1 && id www-data >/dev/null 2>&1 ||
    { echo "skip: needs root and Debian's mosquitto and www-data users"; exit 77; }

ADMIN=$WORK/admin
MEMBERS=(1 2 3)
ETCD_FLAGS=()  # more flags for every member (a test's timeouts)
declare -A CLIENT_PORT PEER_PORT ETCD_PID SYNC_PID BROKER_PID BROKER_PORT NGINX_PORT
export ETCDCTL_API=3

now_millis() { date +%s%3N; }

# wait_until SECONDS WHAT COMMAND...: polls every 20 ms.
wait_until() {
    local seconds=$1 what=$2 tries
    shift 2
    tries=$((seconds * 50))
    until "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "$what: not within $seconds s"
        sleep 0.02
    done
}

# ---- etcd -------------------------------------------------------------------

start_etcd_cluster() {
    local i cluster=""
    for i in "${MEMBERS[@]}"; do
        CLIENT_PORT[$i]=$(free_port)
        PEER_PORT[$i]=$(free_port)
        cluster+="${cluster:+,}m$i=http://127.0.0.1:${PEER_PORT[$i]}"
    done
    ETCD_CLUSTER=$cluster
    ETCD=""
    for i in "${MEMBERS[@]}"; do
        ETCD+="${ETCD:+,}http://127.0.0.1:${CLIENT_PORT[$i]}"
    done
    for i in "${MEMBERS[@]}"; do start_member "$i"; done
    wait_until 20 "etcd cluster healthy" etcdctl --endpoints "$ETCD" endpoint health
}

# start_member I: (re)starts member I on its ports and data directory.
start_member() {
    local i=$1
    etcd --name "m$i" --data-dir "$WORK/etcd$i" \
        --listen-client-urls "http://127.0.0.1:${CLIENT_PORT[$i]}" \
        --advertise-client-urls "http://127.0.0.1:${CLIENT_PORT[$i]}" \
        --listen-peer-urls "http://127.0.0.1:${PEER_PORT[$i]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${PEER_PORT[$i]}" \
        --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new \
        --initial-cluster-token "keyauth-$$" "${ETCD_FLAGS[@]}" >>"$WORK/etcd$i.log" 2>&1 &
    ETCD_PID[$i]=$!
    at_exit "kill -KILL ${ETCD_PID[$i]} 2>/dev/null; { wait ${ETCD_PID[$i]}; } 2>/dev/null"
    wait_for_port "${CLIENT_PORT[$i]}" 10
}

# stop_member I [SIGNAL]
stop_member() {
    local i=$1
    kill -"${2:-TERM}" "${ETCD_PID[$i]}" 2>/dev/null || true
    wait "${ETCD_PID[$i]}" 2>/dev/null || true
}

# The member number of the current leader.
etcd_leader() {
    local i status
    for i in "${MEMBERS[@]}"; do
        status=$(etcdctl --endpoints "http://127.0.0.1:${CLIENT_PORT[$i]}" endpoint status \
            -w fields 2>/dev/null) || continue
        if [ "$(awk -F' : ' '/"MemberID"/ {print $2}' <<<"$status")" == \
            "$(awk -F' : ' '/"Leader"/ {print $2}' <<<"$status")" ]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

etcd_revision() {
    etcdctl --endpoints "$ETCD" endpoint status -w fields |
        awk -F' : ' '/"Revision"/ {print $2; exit}'
}

# The ids registered in etcd, one a line, sorted.
etcd_ids() {
    etcdctl --endpoints "$ETCD" get --prefix /keyauth/clients/ --keys-only |
        sed -n 's|^/keyauth/clients/||p' | sort
}

# ---- the administrator ----------------------------------------------------

# admin ARGS...: keytool on the administrator's host, against etcd.
admin() { keytool --registry "$ADMIN" --etcd "$ETCD" "$@"; }

# admin_gen ID...: each client's files as ./ID_cert.pem, ./ID_key.pem, ./ID_token.
admin_gen() {
    local id
    for id in "$@"; do admin gen "$id" --output "./$id" >/dev/null || fail "admin gen $id"; done
}

# admin_gen_bulk PREFIX N: a template client, then N clients PREFIX0000...
# registered straight into etcd (tests/integration/fleet/bulk_clients.py),
# their tokens in $WORK/tokens.
admin_gen_bulk() {
    admin_gen template
    mkdir -p "$WORK/tokens"
    python3 "$(dirname "$FLEET_LIB")/bulk_clients.py" "${ETCD%%,*}" template "$1" "$2" "$WORK/tokens" ||
        fail "bulk registration"
}

# start_fleet ID...: the etcd cluster, the fleet initialized by the
# administrator, each client ID registered (admin_gen); FLEET_ID its fleet id,
# as the hosts' last-use keys name it.
start_fleet() {
    start_etcd_cluster
    admin init >/dev/null || fail "admin init"
    admin_gen "$@"
    FLEET_ID=$(etcdctl --endpoints "$ETCD" get /keyauth/fleet_id --print-value-only)
    [ -n "$FLEET_ID" ] || fail "no fleet id in etcd after init"
}

# start_one_host_fleet DIGEST-INTERVAL ID...: a one-member etcd cluster,
# the fleet initialized, each ID registered (bob among them), host 1 kept by
# keyauth-sync checking its digest every DIGEST-INTERVAL s, bob loaded there:
# the start of the tests that put in etcd what the hosts refuse.
start_one_host_fleet() {
    local interval=$1
    shift
    MEMBERS=(1)
    start_etcd_cluster
    admin init >/dev/null || fail "admin init"
    admin_gen "$@"
    DIGEST_INTERVAL=$interval start_host 1
    wait_on_host 1 valid bob_token 10
}

# del_bob_reaches_host_1 AFTER-WHAT: bob deleted in etcd after what a test
# put there is refused on host 1 as the servers read it, keyauth-sync still
# up and alice still admitted (one bad record must not stop the changes
# after it).
del_bob_reaches_host_1() {
    admin del bob >/dev/null || fail "admin del bob"
    wait_until 10 "bob (deleted in etcd after $1) refused on host 1 as the servers read it" \
        group_refuses 1 bob_token
    kill -0 "${SYNC_PID[1]}" 2>/dev/null || fail "keyauth-sync died: $(tail -n 5 "$WORK/sync1.log")"
    group_verify 1 alice_token || fail "alice refused on host 1"
}

# ---- hosts ------------------------------------------------------------------

host_dir() { echo "$WORK/host$1"; }

# start_host I: host I's keyauth-sync (registry made for the mosquitto group,
# which the hosts' nginx workers get as their group too).
# start_host I [KEYAUTH-SYNC OPTION...]
start_host() {
    local i=$1
    shift
    "$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir "$i")" --group mosquitto \
        --digest-interval "${DIGEST_INTERVAL:-30}" "$@" >>"$WORK/sync$i.log" 2>&1 &
    SYNC_PID[$i]=$!
    at_exit "kill -KILL ${SYNC_PID[$i]} 2>/dev/null; { wait ${SYNC_PID[$i]}; } 2>/dev/null"
    wait_until 10 "host $i's first load" test -f "$(host_dir "$i")/ca_cert.pem"
}

# stop_host I [SIGNAL]
stop_host() {
    kill -"${2:-TERM}" "${SYNC_PID[$1]}" 2>/dev/null || true
    wait "${SYNC_PID[$1]}" 2>/dev/null || true
}

# on_host I verify TOKEN-FILE: keytool verify against host I's replica.
host_verify() {
    keytool --registry "$(host_dir "$1")" verify - <"$2" >/dev/null 2>&1
}
host_refuses() { ! host_verify "$@"; }

# group_verify I TOKEN-FILE: as the servers read host I's registry (its
# group, through lookup.idx).
group_verify() {
    setpriv --reuid=nobody --regid=mosquitto --clear-groups \
        "$KEYTOOL" --registry "$(host_dir "$1")" verify - <"$2" >/dev/null 2>&1
}
group_refuses() { ! group_verify "$@"; }

# wait_on_host I valid|refused TOKEN-FILE [SECONDS]
wait_on_host() {
    if [ "$2" == valid ]; then
        wait_until "${4:-5}" "$3 valid on host $1" host_verify "$1" "$3"
    else
        wait_until "${4:-5}" "$3 refused on host $1" host_refuses "$1" "$3"
    fi
}

# status_says_held I: keytool status on host I says HELD, and exits 1; as
# its owner (LMDB) at once, as the registry's group (a monitoring user: the
# contact file) within a heartbeat.
status_says_held() {
    local out
    out=$(keytool --registry "$(host_dir "$1")" status) && fail "host $1's status said all is well while held: $out"
    expect_contains "$out" "state:         HELD" "keytool status on host $1"
    wait_until 15 "host $1's status HELD for the registry's group" group_status_says_held "$1"
}
group_status_says_held() {
    ! setpriv --reuid=nobody --regid=mosquitto --clear-groups \
        "$KEYTOOL" --registry "$(host_dir "$1")" status >"$WORK/group-status" &&
        grep -q "^state:         HELD: keyauth-sync holds the registry" "$WORK/group-status"
}

# accept_new_fleet I: the operator's answer to HELD, with host I's keyauth-sync stopped.
accept_new_fleet() {
    local out
    stop_host "$1"
    out=$("$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir "$1")" --accept-new-fleet --once 2>&1) ||
        fail "keyauth-sync --accept-new-fleet on host $1: $out"
    expect_contains "$out" "new fleet accepted" "keyauth-sync --accept-new-fleet on host $1"
    start_host "$1"
}

# host_digest_equal I: keyauth-sync --check (digest of host I against etcd's).
host_digest_equal() {
    "$KEYAUTH_SYNC" --etcd "$ETCD" --registry "$(host_dir "$1")" --check
}

# ---- servers on a host --------------------------------------------------------

# start_broker I [LINE...]: the real mosquitto with our plugin on host I's
# registry, a token listener on BROKER_PORT[I]; LINEs are appended.
start_broker() {
    local i=$1 plugin
    plugin=$(mosquitto_readable_plugin "$PLUGIN" "$WORK")
    BROKER_PORT[$i]=$(free_port)
    mosquitto_conf "$(mosquitto_listener "${BROKER_PORT[$i]}")" \
        "$(mosquitto_plugin "$plugin" "$(host_dir "$i")")" "${@:2}" >"$WORK/broker$i.conf"
    mosquitto_start "$WORK/broker$i.conf" "$WORK/broker$i.log"
    BROKER_PID[$i]=$MOSQUITTO_STARTED
}

# subscribe I NAME TOKEN-FILE: a live session on host I's broker, MQTT client id
# NAME ("alice:on-1": the client's id, or it with a suffix after a colon; output in
# NAME.out, pid in SUB_PID_NAME), returned once subscribed.
declare -A SUB_PID
subscribe() {
    local i=$1 name=$2 token=$3
    mosquitto_sub -h 127.0.0.1 -p "${BROKER_PORT[$i]}" --username "$(cat "$token")" \
        --id "$name" -t 'db/#' >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SUB_PID[$name]=$!
    at_exit "kill ${SUB_PID[$name]} 2>/dev/null"
    wait_until 5 "$name subscribed on host $i" grep -q "Sending SUBACK to $name\$" "$WORK/broker$i.log"
}

session_alive() { kill -0 "${SUB_PID[$1]}" 2>/dev/null; }

# publish I TOKEN-FILE MESSAGE: prints mosquitto_pub's output; its status.
publish() {
    mosquitto_pub -h 127.0.0.1 -p "${BROKER_PORT[$1]}" --username "$(cat "$2")" \
        -t db/write/EXAMPLE -m "$3" 2>&1
}

# start_nginx I: the real nginx with our module on host I's registry: an
# upstream echoing the client id behind the protected NGINX_PORT[I].
start_nginx() {
    local i=$1 up
    up=$(free_port)
    NGINX_PORT[$i]=$(free_port)
    # The registry's group is mosquitto: the workers read it as that group.
    nginx_conf "$WORK/nginx$i" --module "$NGINX_MODULE" --user "www-data mosquitto" "
    server {
        listen 127.0.0.1:$up;
        location / { return 200 \"client=\$http_x_client_id\n\"; }
    }
    server {
        listen 127.0.0.1:${NGINX_PORT[$i]};
        keyauth_registry $(host_dir "$i");
        keyauth on;
        location / {
            proxy_pass http://127.0.0.1:$up;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }
    }"
    nginx_start "$WORK/nginx$i"
}

# http_status I TOKEN-FILE: the status of one request to host I's nginx.
http_status() {
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$2")" \
        "http://127.0.0.1:${NGINX_PORT[$1]}/db/query"
}

# wait_for_status I TOKEN-FILE CODE: host I's nginx answers CODE, within 2 s
# (after a rebuild, nginx reopens the swapped-in registry within 200 ms).
http_status_is() { [ "$(http_status "$1" "$2")" == "$3" ]; }
wait_for_status() {
    wait_until 2 "host $1's nginx answering $3 to $2" http_status_is "$@"
}
