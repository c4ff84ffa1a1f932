#!/bin/bash
# Mosquitto CONNECT -> CONNACK -> DISCONNECT rate with and without keyauth,
# side by side in one run.
#
#   tests/bench/mosquitto_bench.sh [--build-dir DIR] [--registry DIR]
#       [--duration S] [--rounds N] [--connections N] [--pin] [--smoke]
#
# Five brokers (Mosquitto is one thread; with --pin each on the last CPU and
# the load generator on the first), driven in turn by mqtt_connect_bench:
#   anonymous        allow_anonymous true
#   keyauth_token    plugin, username = a different registered token per connect
#   keyauth_refused  plugin, a wrong secret for a registered id (CONNACK 5)
#   password_file    password_file made by mosquitto_passwd, one user
#   tls              TLS, require_certificate true, no plugin
#   tls_keyauth      TLS, require_certificate true, plugin checks the certificate
# After one unmeasured warm-up pass, every case runs once per round, in a rotated order; the table gives the
# median connects/s and the ratio to its match (tokens and password_file
# against anonymous, tls_keyauth against tls). The broker with the registry
# open: its memory after the load.
#
# The plugin: $MOSQUITTO_PLUGIN, else the build tree's mosquitto-plugin/.
source "$(dirname "$0")/bench_lib.sh"

BUILD_ARG="" REGISTRY_ARG="" DURATION=3 ROUNDS=5 CONNECTIONS=16 PIN=0
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) BUILD_ARG=$2; shift ;;
    --registry) REGISTRY_ARG=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --connections) CONNECTIONS=$2; shift ;;
    --smoke) DURATION=1 ROUNDS=1 ;;
    --pin) PIN=1 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done

bench_init "$BUILD_ARG"
[ -x "${MOSQUITTO:-/usr/sbin/mosquitto}" ] || die "no mosquitto"
[ -f "$MOSQUITTO_PLUGIN" ] || die "no plugin at $MOSQUITTO_PLUGIN (build target mosquitto_keyauth, or set MOSQUITTO_PLUGIN)"
[ -x "$MQTT_CONNECT_BENCH" ] || die "no load generator at $MQTT_CONNECT_BENCH"
prepare_registry "$REGISTRY_ARG" "$WORK"

# One registered client certificate per connection (MQTT takes over a session
# whose client id connects again, so they must not share one).
mkdir -p "$WORK/certs"
: >"$WORK/certs.txt"
for ((i = 0; i < CONNECTIONS; i++)); do
    id=mqttbench$i
    "$KEYTOOL" --registry "$REGISTRY" gen "$id" --force --output "$WORK/certs/" >/dev/null
    at_exit "'$KEYTOOL' --registry '$REGISTRY' del $id >/dev/null 2>&1"
    echo "$id $WORK/certs/${id}_cert.pem $WORK/certs/${id}_key.pem" >>"$WORK/certs.txt"
done
WRONG="$(head -1 "$TOKENS_FILE" | sed 's/:b:.*//'):b:$(printf '%064d' 0)"

mosquitto_passwd -c -b "$WORK/passwd" bench benchpassword >/dev/null 2>&1 \
    || die "mosquitto_passwd failed"
as_root || chmod 0600 "$WORK/passwd"

# --pin: brokers on the last CPU, the load on the first. Off by default: on
# a machine shared with other work, pinning starves both sides.
BROKER_CPU=0-$(($(nproc) - 1)) PIN_LOAD=""
if [ "$PIN" = 1 ]; then BROKER_CPU=$(($(nproc) - 1)) PIN_LOAD="taskset -c 0"; fi
PLUGIN="plugin $MOSQUITTO_PLUGIN
plugin_opt_registry $REGISTRY"
TLS="cafile $REGISTRY/ca_cert.pem
certfile $REGISTRY/server_cert.pem
keyfile $REGISTRY/server_key.pem
require_certificate true"
declare -A PORT
for b in anonymous keyauth passwd tls tls_keyauth; do PORT[$b]=$(free_port); done
start_mosquitto anonymous "${PORT[anonymous]}" "$BROKER_CPU" "allow_anonymous true"
start_mosquitto keyauth "${PORT[keyauth]}" "$BROKER_CPU" "$PLUGIN"
start_mosquitto passwd "${PORT[passwd]}" "$BROKER_CPU" "allow_anonymous false
password_file $WORK/passwd"
start_mosquitto tls "${PORT[tls]}" "$BROKER_CPU" "allow_anonymous true
$TLS"
start_mosquitto tls_keyauth "${PORT[tls_keyauth]}" "$BROKER_CPU" "$PLUGIN
$TLS"
grep -q 'MQTT token authentication enabled' "$WORK/mosquitto-keyauth/mosquitto.log" \
    || die "the plugin did not say it is enabled: $(cat "$WORK/mosquitto-keyauth/mosquitto.log")"

CASES=(anonymous keyauth_token keyauth_refused password_file tls tls_keyauth)
declare -A BROKER=([anonymous]=anonymous [keyauth_token]=keyauth [keyauth_refused]=keyauth
    [password_file]=passwd [tls]=tls [tls_keyauth]=tls_keyauth)
declare -A ARGS=([anonymous]=""
    [keyauth_token]="-U $TOKENS_FILE"
    [keyauth_refused]="-u $WRONG --expect-refused"
    [password_file]="-u bench -P benchpassword"
    [tls]="--tls --cafile $REGISTRY/ca_cert.pem --certs $WORK/certs.txt"
    [tls_keyauth]="--tls --cafile $REGISTRY/ca_cert.pem --certs $WORK/certs.txt")
declare -A MATCH=([keyauth_token]=anonymous [keyauth_refused]=anonymous
    [password_file]=anonymous [tls_keyauth]=tls)

# run_case CASE -> "rate broker_cpu_percent p50_us broker_us_per_connect"
run_case() {
    local c=$1 b=${BROKER[$1]} pid out before after
    pid=${MOSQUITTO_PID[$b]}
    before=$(cpu_seconds "$pid")
    # shellcheck disable=SC2086
    out=$($PIN_LOAD "$MQTT_CONNECT_BENCH" -p "${PORT[$b]}" -c "$CONNECTIONS" \
        -d "$DURATION" ${ARGS[$c]}) || die "case $c failed: $out"
    after=$(cpu_seconds "$pid")
    awk -v b="$before" -v a="$after" -v d="$DURATION" \
        '{ sub("/s", "", $4); printf "%s %.0f %s %.1f\n", $4, 100 * (a - b) / d, $14,
           ($2 > 0 ? 1e6 * (a - b) / $2 : 0) }' <<<"$out"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
note "brokers on CPU $BROKER_CPU, load ${PIN_LOAD:-unpinned}; registry $REGISTRY" \
    "($(registry_clients "$REGISTRY") clients); $ROUNDS rounds x ${#CASES[@]} cases x ${DURATION}s," \
    "$CONNECTIONS connections"
# One unmeasured pass first: the brokers fault their share of a
# million-client map in, and every case starts warm, as in steady service.
for c in "${CASES[@]}"; do
    run_case "$c" >/dev/null
done
note "warm-up pass done (not measured)"
for ((round = 0; round < ROUNDS; round++)); do
    for ((k = 0; k < ${#CASES[@]}; k++)); do
        c=${CASES[$(((k + round) % ${#CASES[@]}))]}
        read -r rate cpu p50 us < <(run_case "$c")
        echo "$c $rate $cpu $p50 $us" >>"$WORK/results"
        note "round $((round + 1)) $c: $rate connects/s, broker CPU $cpu% ($us us/connect), CONNACK p50 ${p50} us"
    done
done

printf '\nload average before: %s\n' "$LOAD_BEFORE"
printf 'Mosquitto 2.0.11, %s connections, %ss x %s rounds (median), registry of %s clients\n' \
    "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(registry_clients "$REGISTRY")"
printf '%-16s %11s %7s %-10s %11s %13s %15s\n' case 'connects/s' 'ratio' 'vs' 'broker CPU%' 'broker us/con' 'CONNACK p50 us'
for c in "${CASES[@]}"; do
    med=$(awk -v c="$c" '$1 == c {print $2}' "$WORK/results" | median)
    cpu=$(awk -v c="$c" '$1 == c {print $3}' "$WORK/results" | median)
    p50=$(awk -v c="$c" '$1 == c {print $4}' "$WORK/results" | median)
    us=$(awk -v c="$c" '$1 == c {print $5}' "$WORK/results" | median)
    echo "RESULT mqtt_${c}_broker_us_per_connect $us" >>"$WORK/summary"
    m=${MATCH[$c]:-}
    r=""
    if [ -n "$m" ]; then
        r=$(ratio "$med" "$(awk -v c="$m" '$1 == c {print $2}' "$WORK/results" | median)")
        echo "RESULT mqtt_${c}_ratio $r" >>"$WORK/summary"
    fi
    printf '%-16s %11.0f %7s %-10s %11s %13s %15s\n' "$c" "$med" "${r:--}" "${m:--}" "$cpu" "$us" "$p50"
    echo "RESULT mqtt_${c}_rate $med" >>"$WORK/summary"
done
read -r anon file pss pdirty < <(memory_of "${MOSQUITTO_PID[keyauth]}")
read -r anon0 file0 _ _ < <(memory_of "${MOSQUITTO_PID[anonymous]}")
printf '\nbroker with the registry open: RssAnon %s kB (anonymous broker %s kB), RssFile %s kB (%s kB), Pss %s kB, Private_Dirty %s kB\n' \
    "$anon" "$anon0" "$file" "$file0" "$pss" "$pdirty"
echo "RESULT mqtt_broker_rss_anon_kb $anon" >>"$WORK/summary"
echo "RESULT mqtt_broker_rss_file_kb $file" >>"$WORK/summary"
cat "$WORK/summary"
