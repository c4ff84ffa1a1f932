# What the MQTT tests share, sourced after lib.sh: a registry made for
# Debian's mosquitto user, the real broker with the plugin on two loopback
# listeners (started by tests/lib/mosquitto.sh), and ways to watch what
# clients and the broker saw.

: "${PLUGIN:?PLUGIN must name mosquitto_keyauth.so}"
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/mosquitto.sh"
# The seed's example message.
PAYLOAD='[ "wave.pi", 1675851592000000000, 3.1415]'

# Exit 77 (skipped) where the broker cannot run as in production.
require_broker() {
    command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null ||
        { echo "skip: mosquitto-clients is not installed"; exit 77; }
    [ -x "$MOSQUITTO" ] || { echo "skip: $MOSQUITTO is not installed"; exit 77; }
    [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1 ||
        { echo "skip: needs root and Debian's mosquitto user"; exit 77; }
}

# The registry as an operator makes it for a broker on this host.
init_registry() {
    keytool init --group mosquitto --host 127.0.0.1 --host localhost >/dev/null
}

pick_ports() {
    TOKEN_PORT=$(free_port)
    TLS_PORT=$(free_port)
    while [ "$TLS_PORT" == "$TOKEN_PORT" ]; do TLS_PORT=$(free_port); done
}

# broker_config [LINE]...: a token listener on $TOKEN_PORT and a TLS listener
# requiring client certificates on $TLS_PORT; LINEs are appended.
# REGISTRY_OPTION replaces the plugin_opt_registry line (empty: none).
broker_config() {
    mosquitto_conf "$(mosquitto_listener "$TOKEN_PORT")" \
        "$(mosquitto_listener "$TLS_PORT")" "$(mosquitto_tls "$KEYAUTH_REGISTRY")" \
        "$(mosquitto_plugin "$BROKER_PLUGIN")" \
        "${REGISTRY_OPTION-plugin_opt_registry $KEYAUTH_REGISTRY}" "$@"
}

BROKER_PLUGIN=$(mosquitto_readable_plugin "$PLUGIN" "$WORK")

# expect_no_sanitizer_report LOG: fails on any AddressSanitizer or UBSan report.
expect_no_sanitizer_report() {
    ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$1" ||
        { cat "$1" >&2; fail "sanitizer report in $1"; }
}

# start_broker [LINE]...: started as root, it drops to the mosquitto user.
# $BROKER_WRAPPER (e.g. valgrind) runs in front of it when set.
start_broker() {
    pick_ports
    broker_config "$@" >"$WORK/mosquitto.conf"
    BROKER_LOG=$WORK/broker.log
    run_broker
}

# run_broker: the broker on $WORK/mosquitto.conf, its log $BROKER_LOG, its pid
# $BROKER_PID.
run_broker() {
    # shellcheck disable=SC2086  # BROKER_WRAPPER is words
    mosquitto_start "$WORK/mosquitto.conf" "$BROKER_LOG" ${BROKER_WRAPPER:-}
    BROKER_PID=$MOSQUITTO_STARTED
    at_exit stop_broker
}

# Stops the broker (SIGTERM) and keeps its exit status in BROKER_STATUS.
stop_broker() {
    [ -n "${BROKER_PID:-}" ] || return 0
    mosquitto_stop "$BROKER_PID"
    BROKER_STATUS=$MOSQUITTO_STATUS
    BROKER_PID=
    expect_no_sanitizer_report "$BROKER_LOG"
}

# run_broker_expecting_refusal [LINE]...: the broker must exit by itself, not
# serve; prints its log.
run_broker_expecting_refusal() {
    pick_ports
    broker_config "$@" >"$WORK/mosquitto.conf"
    local rc=0
    timeout 20 "${MOSQUITTO_SANITIZER[@]}" "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 || rc=$?
    expect_no_sanitizer_report "$WORK/broker.log"
    [ "$rc" -ne 0 ] || fail "broker started although it should have refused"
    [ "$rc" -ne 124 ] || fail "broker kept running although it should have refused"
    cat "$WORK/broker.log"
}

# expect_refused OUTPUT WHAT: what mosquitto_pub/sub print for CONNACK "not
# authorized" (MQTT 3.1.1 spells it "not authorised.", MQTT 5 "Not authorized").
expect_refused() {
    local lower=${1,,}
    [[ "$lower" =~ not\ authori[sz]ed ]] || fail "$2: expected 'not authorized', got [$1]"
}

# expect_in_log PATTERN WHAT [SECONDS] [FROM-LINE]: waits for an extended
# regex in the broker log (past line FROM-LINE).
expect_in_log() {
    local tries=$(( ${3:-5} * 20 )) from=$(( ${4:-0} + 1 ))
    until grep -Eq -- "$1" <(tail -n "+$from" "$BROKER_LOG"); do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "$2: broker log lacks /$1/"
        sleep 0.05
    done
}

# start_subscriber NAME ARG...: mosquitto_sub on db/# in the background, its
# output in NAME.out and NAME.err, its pid in SUB_PID[NAME]; returns once the
# broker acknowledged the subscription (the args must hold an --id).
declare -A SUB_PID
start_subscriber() {
    local name=$1 id=""
    shift
    local args=("$@") i
    for ((i = 0; i < ${#args[@]}; i++)); do
        [ "${args[$i]}" != --id ] || id=${args[$((i + 1))]}
    done
    [ -n "$id" ] || fail "start_subscriber $name: give an --id"
    local from
    from=$(wc -l <"$BROKER_LOG")
    mosquitto_sub -h 127.0.0.1 -t 'db/#' "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SUB_PID[$name]=$!
    at_exit "kill ${SUB_PID[$name]} 2>/dev/null"
    expect_in_log "Sending SUBACK to $id\$" "subscriber $name" 5 "$from"
}

# expect_dropped SINCE-MILLIS CLIENT-ID REASON MQTT-CLIENT-ID...: the plugin
# disconnected each of CLIENT-ID's sessions within a second after SINCE;
# sets DROPPED_MS. Waits longer to tell late from never.
expect_dropped() {
    local since=$1 client=$2 reason=$3 session tries
    shift 3
    for session in "$@"; do
        tries=100
        until grep -q -- "disconnecting MQTT client '$session' of '$client': $reason" \
            "$BROKER_LOG"; do
            [ $((tries -= 1)) -gt 0 ] || { sweeps >&2; fail "$session of $client never dropped"; }
            sleep 0.05
        done
    done
    DROPPED_MS=$(($(now_millis) - since))
    [ "$DROPPED_MS" -le 1000 ] ||
        { sweeps >&2; fail "sessions of $client dropped after $DROPPED_MS ms (since $since)"; }
}

# The plugin's re-checks of live sessions, for a failure's diagnosis.
sweeps() {
    grep -E "re-checking|disconnecting MQTT client" "$BROKER_LOG" || echo "(no re-check logged)"
}

# wait_for_output NAME TEXT [SECONDS]
wait_for_output() {
    local tries=$(( ${3:-5} * 20 ))
    until grep -qF -- "$2" "$WORK/$1.out"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "subscriber $1 did not receive [$2]"
        sleep 0.05
    done
}

# wait_for_exit NAME [SECONDS]: the subscriber's process must end.
wait_for_exit() {
    local pid=${SUB_PID[$1]} tries=$(( ${2:-5} * 20 ))
    while kill -0 "$pid" 2>/dev/null; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "subscriber $1 is still connected"
        sleep 0.05
    done
}

# Every token secret keytool handed out in $WORK must be absent from the log.
expect_no_secret_in_log() {
    local file secret
    for file in "$WORK"/*_token; do
        [ -e "$file" ] || continue
        secret=$(cut -d: -f3 "$file")
        [ -n "$secret" ] || fail "no secret in $file"
        ! grep -qF -- "$secret" "$BROKER_LOG" || fail "the broker log holds the secret of $file"
    done
}

now_millis() { date +%s%3N; }

# The seed's two ways in. publish_with_token TOKEN-FILE MESSAGE [ARG]...
publish_with_token() {
    local token_file=$1 message=$2
    shift 2
    mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "$(cat "$token_file")" \
        -t db/write/EXAMPLE -m "$message" "$@" 2>&1
}
# publish_with_certificate FILE-PREFIX MESSAGE [ARG]...: the client id is the
# prefix's base name unless an ARG gives another --id.
publish_with_certificate() {
    local prefix=$1 message=$2
    shift 2
    local id_args=(--id "$(basename "$prefix")")
    [[ " $* " != *" --id "* ]] || id_args=()
    mosquitto_pub -h 127.0.0.1 -p "$TLS_PORT" "${id_args[@]}" "$@" \
        --cert "${prefix}_cert.pem" --key "${prefix}_key.pem" --cafile ./server.crt \
        -t db/append/EXAMPLE -m "$message" 2>&1
}

# gen_clients ID...: `keytool gen` each, and the CA for --cafile as ./server.crt.
gen_clients() {
    local id
    for id in "$@"; do keytool gen "$id" >/dev/null; done
    keytool server-cert --output ./server.crt >/dev/null
}

require_broker
init_registry
