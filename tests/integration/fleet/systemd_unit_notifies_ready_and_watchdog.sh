# keyauth-sync.service as systemd would run it: the unit's ExecStart= with
# its Environment= and an operator's /etc/keyauth/sync.conf, under a
# NOTIFY_SOCKET and WATCHDOG_USEC. READY=1 comes once the first load from
# etcd is done, then WATCHDOG=1 from the loop, and STOPPING=1 on SIGTERM; a
# host that cannot load yet feeds the watchdog but is not ready.
# `systemd-analyze verify` accepts the unit.
source "$FLEET_LIB"
UNIT=$(dirname "$FLEET_LIB")/../../../debian/keyauth-tools.keyauth-sync.service
[ -f "$UNIT" ] || fail "no unit at $UNIT"

if command -v systemd-analyze >/dev/null; then
    # Offline: the binary at the test's path, no man page to look up.
    sed -e "s|^ExecStart=/usr/sbin/keyauth-sync|ExecStart=$KEYAUTH_SYNC|" -e '/^Documentation=/d' \
        "$UNIT" >"$WORK/keyauth-sync.service"
    out=$(systemd-analyze verify "$WORK/keyauth-sync.service" 2>&1) ||
        fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify says: $out"
    pass "systemd-analyze verify accepts the unit"
fi

# notify_listener NAME: a unix datagram socket at $WORK/NAME.sock, each
# datagram one line of $WORK/NAME.out (its newlines as '|').
notify_listener() {
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
' "$WORK/$1.sock" "$WORK/$1.out" &
    at_exit "kill $! 2>/dev/null"
    wait_until 5 "the $1 socket" test -S "$WORK/$1.sock"
}

# run_unit NAME CONF: the unit's ExecStart as systemd expands it ($VAR split
# into words, ${VAR} one word) with Environment= then the EnvironmentFile
# CONF, the binary the one built; pid in UNIT_PID.
run_unit() {
    local name=$1 conf=$2 line word key value
    local -A env=()
    while IFS= read -r line; do
        line=${line#Environment=}
        env[${line%%=*}]=${line#*=}
    done < <(grep '^Environment=' "$UNIT")
    grep -q "^EnvironmentFile=/etc/keyauth/sync.conf$" "$UNIT" || fail "the unit reads no sync.conf"
    while IFS= read -r line; do
        [[ -z $line || $line == \#* ]] && continue
        env[${line%%=*}]=${line#*=}
    done <"$conf"
    local exec_start
    exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
    local -a words command=()
    read -ra words <<<"$exec_start"
    [ "${words[0]}" == /usr/sbin/keyauth-sync ] || fail "ExecStart runs ${words[0]}"
    command=("$KEYAUTH_SYNC")
    for word in "${words[@]:1}"; do
        if [[ $word =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
            # shellcheck disable=SC2206  # systemd splits an unbraced $VAR into words
            command+=(${env[${BASH_REMATCH[1]}]-})
        elif [[ $word =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$ ]]; then
            command+=("${env[${BASH_REMATCH[1]}]-}")
        else
            command+=("$word")
        fi
    done
    local -a assignments=()
    for key in "${!env[@]}"; do assignments+=("$key=${env[$key]}"); done
    env "${assignments[@]}" NOTIFY_SOCKET="$WORK/$name.sock" WATCHDOG_USEC="${WATCHDOG_USEC:-1000000}" \
        "${command[@]}" >>"$WORK/$name.log" 2>&1 &
    UNIT_PID=$!
    at_exit "kill -KILL $UNIT_PID 2>/dev/null"
}

# count_after FILE LINE-REGEX AFTER-REGEX: lines matching LINE-REGEX after
# the first matching AFTER-REGEX.
count_after() { awk -v after="$3" -v line="$2" '$0 ~ after {seen = 1; next} seen && $0 ~ line {n++} END {print n + 0}' "$1"; }

start_etcd_cluster
admin init >/dev/null
admin_gen alice bob

# The operator's sync.conf, as the example has it, for this etcd and a
# registry of the test's.
sed -e "s|^KEYAUTH_ETCD=.*|KEYAUTH_ETCD=$ETCD|" \
    -e "s|^#KEYAUTH_REGISTRY=.*|KEYAUTH_REGISTRY=$(host_dir 1)|" \
    -e "s|--group keyauth --metrics 127.0.0.1:9470|--group mosquitto --metrics 127.0.0.1:$(free_port)|" \
    "$(dirname "$FLEET_LIB")/../../../conf-examples/keyauth-sync/sync.conf" >sync.conf
grep -q "^KEYAUTH_REGISTRY=$(host_dir 1)$" sync.conf || fail "the example sync.conf changed: $(cat sync.conf)"

notify_listener host1
run_unit host1 ./sync.conf
wait_until 10 "READY=1" grep -q '^READY=1' "$WORK/host1.out"
[ -f "$(host_dir 1)/ca_cert.pem" ] || fail "READY=1 before the first load"
expect_contains "$(grep '^READY=1' "$WORK/host1.out")" "STATUS=serving etcd revision " "status"
expect_eq "$(grep -c '^READY=1' "$WORK/host1.out")" 1 "READY=1 once"
expect_eq "$(keytool --registry "$(host_dir 1)" list | grep -c 'alice\|bob')" 2 "both clients loaded"
pass "READY=1 once the first load is done"

feeds() { [ "$(count_after "$WORK/host1.out" '^WATCHDOG=1$' '^READY=1')" -ge 3 ]; }
wait_until 5 "WATCHDOG=1 every half second after READY=1" feeds
pass "WATCHDOG=1 follows, fed by the loop"

kill -TERM "$UNIT_PID"
status=0
wait "$UNIT_PID" || status=$?
expect_eq "$status" 0 "exit status on SIGTERM"
# The listener writes what it received on its own time: the datagram was
# sent before the exit, so it is there once the listener reads it.
stopping_last() { [ "$(tail -1 "$WORK/host1.out")" == "STOPPING=1" ]; }
wait_until 5 "STOPPING=1 as the last word" stopping_last
pass "STOPPING=1 on SIGTERM, exit 0"

# A fresh host whose etcd does not answer: alive, not ready.
sed -e "s|^KEYAUTH_ETCD=.*|KEYAUTH_ETCD=http://127.0.0.1:$(free_port)|" \
    -e "s|^KEYAUTH_REGISTRY=.*|KEYAUTH_REGISTRY=$(host_dir 2)|" sync.conf >unreachable.conf
notify_listener host2
run_unit host2 ./unreachable.conf
fed() { [ "$(grep -c '^WATCHDOG=1$' "$WORK/host2.out")" -ge 3 ]; }
wait_until 5 "the watchdog fed while etcd does not answer" fed
! grep -q '^READY=1' "$WORK/host2.out" || fail "READY=1 without a load"
kill -TERM "$UNIT_PID"
wait "$UNIT_PID" || true
pass "no etcd, no load: WATCHDOG=1 but no READY=1"

# A load of many pages (a rebuild's or a digest's read is the same walk): a
# whole read of etcd takes a minute at a million clients, more than the
# unit's WatchdogSec, so the watchdog is fed between the pages, before
# READY=1. Here a watchdog of 0.2 s (fed every 0.1 s) and 1 000 pages.
admin_gen_bulk c 10000
sed -e "s|^KEYAUTH_REGISTRY=.*|KEYAUTH_REGISTRY=$(host_dir 3)|" sync.conf >many-pages.conf
notify_listener host3
KEYAUTH_ETCD_READ_PAGE=10 WATCHDOG_USEC=200000 run_unit host3 ./many-pages.conf
wait_until 120 "READY=1 after the load" grep -q '^READY=1' "$WORK/host3.out"
load=$(sed -n 's/.*loaded 10003 clients .* in \([0-9.]*\) s.*/\1/p' "$WORK/host3.log")
[ -n "$load" ] || fail "no load of 10003 clients logged: $(cat "$WORK/host3.log")"
before=$(awk '/^READY=1/ { exit } /^WATCHDOG=1$/ { n++ } END { print n + 0 }' "$WORK/host3.out")
# One a tenth of a second; half of them is room for a loaded machine.
wanted=$(awk -v s="$load" 'BEGIN { printf "%d", s * 5 }')
[ "$wanted" -ge 3 ] || fail "the load took $load s: too quick to show the heartbeat"
[ "$before" -ge "$wanted" ] || fail "$before WATCHDOG=1 during a load of $load s (at least $wanted wanted)"
kill -TERM "$UNIT_PID"
wait "$UNIT_PID" || true
pass "a load of 1 000 pages ($load s) fed the watchdog $before times before READY=1"
