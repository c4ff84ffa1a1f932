#!/bin/bash
# Mosquitto CONNECT -> CONNACK -> DISCONNECT with and without keyauth, and
# the broker's own ways to check a client, side by side in one run, three
# ways:
#
#   tests/bench/mosquitto_bench.sh [--build-dir DIR] [--registry DIR] [--small-registry DIR]
#       [--duration S] [--rounds N] [--connections N] [--requests N] [--pin]
#       [--no-profile] [--smoke] [--tokens FILE] [--cases CASE,CASE...]
#
# 1. Wall clock: a broker per configuration (Mosquitto is one thread; with
#    --pin on the last CPU, the load generator on the first), driven in turn
#    by mqtt_connect_bench; one unmeasured pass, then every case once per
#    round in rotated order; median connects/s and the ratio to its match.
# 2. CPU samples: perf record -e cpu-clock on the broker during each case;
#    the share in the case's own code (keyauth: the plugin, libsodium,
#    liblmdb, libstdc++; dynamic security: its plugin, cJSON, libcrypto;
#    password_file: libcrypto).
# 3. Instructions: each case in a broker under callgrind, one connection,
#    --requests CONNECTs after 20 unmeasured ones; user-space instructions
#    per CONNECT and the difference to anonymous, which is sent the same
#    username (the token) so both parse the same bytes.
# Cases:
#   anonymous        allow_anonymous true; username = a valid token, ignored
#   keyauth_same     plugin, the same registered token on every CONNECT (a
#                    device reconnecting)
#   keyauth_token    plugin, a different registered token per CONNECT (4 096
#                    of the registry's clients: a cold lookup each time)
#   keyauth_refused  plugin, a wrong secret for a registered id (CONNACK 5)
#   password_file    password_file made by mosquitto_passwd (PBKDF2-SHA512)
#   dynsec_1k        the dynamic-security plugin, 1 000 clients
#   dynsec_100k      the dynamic-security plugin, 100 000 clients
#   tls, tls_keyauth TLS require_certificate without / with the plugin's
#                    certificate check (wall clock only)
# keyauth's instruction counts are also taken on --small-registry.
# --tokens FILE: keyauth_token's tokens, one a line, instead of the registry's
# sample (e.g. core_bench --all-tokens's bench-all-tokens.txt: no client twice
# in a run, so the verification cache never answers). --cases: only those
# cases (anonymous is always run: the others are measured against it).
# The plugin: $MOSQUITTO_PLUGIN, else the build tree's mosquitto-plugin/.
source "$(dirname "$0")/bench_lib.sh"

BENCH_OPTIONS="--build-dir --registry --small-registry --duration --rounds --connections --requests --pin --no-profile --smoke --tokens --cases"
DURATION=3 ROUNDS=5 CONNECTIONS=16 REQUESTS=300
bench_options "$@"
if [ "$SMOKE" = 1 ]; then DURATION=1 ROUNDS=1 REQUESTS=10; fi
WARM=20
DYNSEC=${MOSQUITTO_DYNSEC:-/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so}

bench_init "$BUILD_ARG"
[ -x "${MOSQUITTO:-/usr/sbin/mosquitto}" ] || die "no mosquitto"
[ -f "$MOSQUITTO_PLUGIN" ] || die "no plugin at $MOSQUITTO_PLUGIN (build target mosquitto_keyauth, or set MOSQUITTO_PLUGIN)"
[ -x "$MQTT_CONNECT_BENCH" ] || die "no load generator at $MQTT_CONNECT_BENCH"
prepare_registry "$REGISTRY_ARG" "$WORK"
ROTATING_TOKENS=${TOKENS_ARG:-$TOKENS_FILE}
SMALL_REGISTRY=""
[ -n "$SMALL_REGISTRY_ARG" ] && SMALL_REGISTRY=$(cd "$SMALL_REGISTRY_ARG" && pwd)

# One registered client certificate per connection (MQTT takes over a session
# whose client id connects again, so they must not share one).
mkdir -p "$WORK/certs" "$WORK/callgrind"
: >"$WORK/certs.txt"
for ((i = 0; i < CONNECTIONS; i++)); do
    id=mqttbench$i
    "$KEYTOOL" --registry "$REGISTRY" gen "$id" --force --output "$WORK/certs/" >/dev/null
    at_exit "'$KEYTOOL' --registry '$REGISTRY' del $id >/dev/null 2>&1"
    echo "$id $WORK/certs/${id}_cert.pem $WORK/certs/${id}_key.pem" >>"$WORK/certs.txt"
done
VALID=$(head -1 "$TOKENS_FILE")
WRONG="${VALID%:b:*}:b:$(printf '%064d' 0)"

mosquitto_passwd -c -b "$WORK/passwd" bench benchpassword >/dev/null 2>&1 \
    || die "mosquitto_passwd failed"
as_root || chmod 0600 "$WORK/passwd"

# A dynamic-security configuration of N clients, as mosquitto_ctrl writes it
# (PBKDF2-SHA512, 101 iterations, a 12-byte salt each), all allowed to connect.
dynsec_config() {
    python3 - "$1" "$2" <<'PY'
import base64, hashlib, json, os, sys
path, count = sys.argv[1], int(sys.argv[2])
clients = []
for i in range(count):
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", b"benchpassword", salt, 101)
    clients.append({"username": "dynbench%07d" % i, "password": base64.b64encode(digest).decode(),
                    "salt": base64.b64encode(salt).decode(), "iterations": 101, "roles": []})
config = {"clients": clients, "groups": [], "roles": [],
          "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True,
                               "subscribe": False, "unsubscribe": True}}
with open(path, "w") as f:
    json.dump(config, f)
PY
}
HAVE_DYNSEC=0
if [ -n "$CASES_ARG" ] && [[ $CASES_ARG != *dynsec* ]]; then
    :  # not asked for: no configuration to make
elif [ -f "$DYNSEC" ]; then
    HAVE_DYNSEC=1
    DYNSEC_SMALL=1000 DYNSEC_BIG=100000
    [ "$SMOKE" = 1 ] && DYNSEC_BIG=2000
    dynsec_config "$WORK/dynsec-1k.json" "$DYNSEC_SMALL"
    dynsec_config "$WORK/dynsec-100k.json" "$DYNSEC_BIG"
else
    note "no dynamic-security plugin at $DYNSEC: dynsec cases skipped"
fi

# --pin: brokers on the last CPU, the load on the first. Off by default: on
# a machine shared with other work, pinning starves both sides.
BROKER_CPU=0-$(($(nproc) - 1)) PIN_LOAD=""
if [ "$PIN" = 1 ]; then BROKER_CPU=$(($(nproc) - 1)) PIN_LOAD="taskset -c 0"; fi
plugin_lines() { printf 'plugin %s\nplugin_opt_registry %s\n' "$MOSQUITTO_PLUGIN" "$1"; }
dynsec_lines() { printf 'plugin %s\nplugin_opt_config_file %s\n' "$DYNSEC" "$1"; }
TLS="cafile $REGISTRY/ca_cert.pem
certfile $REGISTRY/server_cert.pem
keyfile $REGISTRY/server_key.pem
require_certificate true"
# conf_of BROKER [REGISTRY]: the broker's configuration lines.
conf_of() {
    case $1 in
    anonymous) echo "allow_anonymous true" ;;
    keyauth) plugin_lines "${2:-$REGISTRY}" ;;
    passwd) printf 'allow_anonymous false\npassword_file %s\n' "$WORK/passwd" ;;
    dynsec_1k) dynsec_lines "$WORK/dynsec-1k.json" ;;
    dynsec_100k) dynsec_lines "$WORK/dynsec-100k.json" ;;
    tls) printf 'allow_anonymous true\n%s\n' "$TLS" ;;
    tls_keyauth) printf '%s\n%s\n' "$(plugin_lines "$REGISTRY")" "$TLS" ;;
    esac
}

CASES=(anonymous keyauth_same keyauth_token keyauth_refused password_file)
[ "$HAVE_DYNSEC" = 1 ] && CASES+=(dynsec_1k dynsec_100k)
CASES+=(tls tls_keyauth)
if [ -n "$CASES_ARG" ]; then
    wanted=(anonymous)
    for c in ${CASES_ARG//,/ }; do
        [[ " ${CASES[*]} " == *" $c "* ]] || die "no case $c"
        [ "$c" = anonymous ] || wanted+=("$c")
    done
    CASES=("${wanted[@]}")
fi
declare -A BROKER=([anonymous]=anonymous [keyauth_same]=keyauth [keyauth_token]=keyauth
    [keyauth_refused]=keyauth [password_file]=passwd [dynsec_1k]=dynsec_1k
    [dynsec_100k]=dynsec_100k [tls]=tls [tls_keyauth]=tls_keyauth)
declare -A ARGS=([anonymous]="-u $VALID"
    [keyauth_same]="-u $VALID"
    [keyauth_token]="-U $ROTATING_TOKENS"
    [keyauth_refused]="-u $WRONG --expect-refused"
    [password_file]="-u bench -P benchpassword"
    [dynsec_1k]="-u dynbench0000007 -P benchpassword"
    [dynsec_100k]="-u dynbench0000007 -P benchpassword"
    [tls]="--tls --cafile $REGISTRY/ca_cert.pem --certs $WORK/certs.txt"
    [tls_keyauth]="--tls --cafile $REGISTRY/ca_cert.pem --certs $WORK/certs.txt")
declare -A MATCH=([keyauth_same]=anonymous [keyauth_token]=anonymous [keyauth_refused]=anonymous
    [password_file]=anonymous [dynsec_1k]=anonymous [dynsec_100k]=anonymous [tls_keyauth]=tls)
# own_dsos CASE: what perf counts as that case's own code.
own_dsos() {
    case $1 in
    keyauth* | tls_keyauth | anonymous) echo "$KEYAUTH_DSOS" ;;
    dynsec*) echo 'dynamic_security|cjson|libcrypto' ;;
    password_file) echo 'libcrypto' ;;
    esac
}

# ---- 1 and 2: wall clock, with perf on the broker ---------------------------
declare -A PORT
for b in $(for c in "${CASES[@]}"; do echo "${BROKER[$c]}"; done | sort -u); do
    [ "$HAVE_DYNSEC" = 1 ] || [[ $b != dynsec* ]] || continue
    PORT[$b]=$(free_port)
    start_mosquitto "$b" "${PORT[$b]}" "$BROKER_CPU" "$(conf_of "$b")"
done
grep -q 'MQTT token authentication enabled' "$WORK/mosquitto-keyauth/mosquitto.log" \
    || die "the plugin did not say it is enabled: $(cat "$WORK/mosquitto-keyauth/mosquitto.log")"
PERF=0
have_perf && PERF=1

# run_case CASE [ROUND] -> "rate broker_cpu_percent p50_us broker_us_per_connect"
run_case() {
    local c=$1 b=${BROKER[$1]} pid out before after
    pid=${MOSQUITTO_PID[$b]}
    [ "$PERF" = 1 ] && [ -n "${2:-}" ] && perf_start "$pid" "$WORK/perf-$c-$2.data"
    before=$(cpu_seconds "$pid")
    local start=""
    # --tokens: each run from a random line, so that no run meets the clients
    # an earlier one left in the verification cache.
    [ "$c" = keyauth_token ] && [ -n "$TOKENS_ARG" ] && start="-S $((RANDOM << 15 | RANDOM))"
    # shellcheck disable=SC2086
    out=$($PIN_LOAD "$MQTT_CONNECT_BENCH" -p "${PORT[$b]}" -c "$CONNECTIONS" \
        -d "$DURATION" ${ARGS[$c]} $start) || die "case $c failed: $out"
    after=$(cpu_seconds "$pid")
    [ -n "${2:-}" ] && perf_stop
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
: >"$WORK/results"
for ((round = 0; round < ROUNDS; round++)); do
    for ((k = 0; k < ${#CASES[@]}; k++)); do
        c=${CASES[$(((k + round) % ${#CASES[@]}))]}
        read -r rate cpu p50 us < <(run_case "$c" "$round")
        echo "$c $rate $cpu $p50 $us" >>"$WORK/results"
        note "round $((round + 1)) $c: $rate connects/s, broker CPU $cpu% ($us us/connect), CONNACK p50 ${p50} us"
    done
done
read -r anon file pss pdirty < <(memory_of "${MOSQUITTO_PID[keyauth]}")
read -r anon0 file0 _ _ < <(memory_of "${MOSQUITTO_PID[anonymous]}")

# ---- 3: instructions under callgrind ----------------------------------------
declare -A INSTRUCTIONS=()
CALLGRIND=0
have_callgrind && CALLGRIND=1
# count_case NAME CASE [REGISTRY TOKENS_FILE VALID_TOKEN]: instructions per CONNECT.
count_case() {
    local name=$1 c=$2 registry=${3:-$REGISTRY} tokens=${4:-$ROTATING_TOKENS} valid=${5:-$VALID}
    local port n=$REQUESTS args
    port=$(free_port)
    case $c in
    keyauth_same | anonymous) args="-u $valid" ;;
    keyauth_token) args="-U $tokens" ;;
    *) args=${ARGS[$c]} ;;
    esac
    local conf
    conf=$(conf_of "${BROKER[$c]}" "$registry")
    # shellcheck disable=SC2086
    callgrind_mosquitto "$name-a" "$conf" "$port" "$MQTT_CONNECT_BENCH" -p "$port" -c 1 -d 3600 -n "$WARM" $args
    # The rotating case starts where the warm-up stopped: every CONNECT a new client.
    # shellcheck disable=SC2086
    callgrind_mosquitto "$name-b" "$conf" "$port" "$MQTT_CONNECT_BENCH" -p "$port" -c 1 -d 3600 -n $((WARM + n)) $args
    INSTRUCTIONS[$name]=$(per_op "$WORK/callgrind/$name-a.out" "$WORK/callgrind/$name-b.out" "$n")
    echo "$n" >"$WORK/callgrind/$name.count"
    note "callgrind $name: ${INSTRUCTIONS[$name]} instructions/CONNECT ($n CONNECTs)"
}
if [ "$CALLGRIND" = 1 ]; then
    for c in "${CASES[@]}"; do
        [[ $c == tls* ]] || count_case "$c" "$c"
    done
    if [ -n "$SMALL_REGISTRY" ]; then
        small_valid=$(head -1 "$SMALL_REGISTRY/bench-tokens.txt")
        count_case keyauth_same_small keyauth_same "$SMALL_REGISTRY" "$SMALL_REGISTRY/bench-tokens.txt" "$small_valid"
        small_tokens=$SMALL_REGISTRY/bench-tokens.txt
        [ -f "$SMALL_REGISTRY/bench-all-tokens.txt" ] && [ -n "$TOKENS_ARG" ] &&
            small_tokens=$SMALL_REGISTRY/bench-all-tokens.txt
        count_case keyauth_token_small keyauth_token "$SMALL_REGISTRY" "$small_tokens" "$small_valid"
    fi
fi

# ---- the table ----------------------------------------------------------------
printf '\nload average before: %s, after: %s\n' "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'Mosquitto 2.0.11, %s connections, %ss x %s rounds (median), registry of %s clients\n' \
    "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(registry_clients "$REGISTRY")"
printf '%-16s %10s %7s %-10s %9s %9s %9s %8s %11s %9s\n' case 'conn/s' 'ratio' 'vs' 'CPU us' \
    'p50 us' 'own CPU%' 'samples' 'instr/conn' '+instr'
for c in "${CASES[@]}"; do
    med=$(awk -v c="$c" '$1 == c {print $2}' "$WORK/results" | median)
    p50=$(awk -v c="$c" '$1 == c {print $4}' "$WORK/results" | median)
    us=$(awk -v c="$c" '$1 == c {print $5}' "$WORK/results" | median)
    m=${MATCH[$c]:-} r="-"
    [ -n "$m" ] && r=$(ratio "$med" "$(awk -v c="$m" '$1 == c {print $2}' "$WORK/results" | median)")
    share="-" samples="-"
    re=$(own_dsos "$c")
    if [ "$PERF" = 1 ] && [ -n "$re" ]; then
        read -r share samples < <(KEYAUTH_DSOS=$re perf_share "$WORK"/perf-"$c"-*.data)
    fi
    instr=${INSTRUCTIONS[$c]:-} extra=""
    [ -n "$instr" ] && extra=$((instr - INSTRUCTIONS[anonymous]))
    printf '%-16s %10.0f %7s %-10s %9s %9s %9s %8s %11s %9s\n' "$c" "$med" "$r" "${m:--}" "$us" "$p50" \
        "$share" "$samples" "${instr:--}" "${extra:--}"
    {
        echo "RESULT mqtt_${c}_rate $med"
        [ "$r" != - ] && echo "RESULT mqtt_${c}_ratio $r"
        echo "RESULT mqtt_${c}_broker_us_per_connect $us"
        profile_results "mqtt_$c" "$share" "$instr" "$extra"
    } >>"$WORK/summary"
done
for name in keyauth_same_small keyauth_token_small; do
    [ -n "${INSTRUCTIONS[$name]:-}" ] || continue
    extra=$((INSTRUCTIONS[$name] - INSTRUCTIONS[anonymous]))
    printf '%-20s %6s %7s %-10s %9s %9s %9s %8s %11s %9s\n' "$name" - - - - - - - "${INSTRUCTIONS[$name]}" "$extra"
    echo "RESULT mqtt_${name}_instructions ${INSTRUCTIONS[$name]}" >>"$WORK/summary"
    echo "RESULT mqtt_${name}_extra_instructions $extra" >>"$WORK/summary"
done
cat <<'EOF'
  ratio: connects/s against "vs" (noisy). CPU us: the broker's CPU time per CONNECT (/proc).
  own CPU%: perf cpu-clock samples of the broker (user and kernel) in the case's own code:
  keyauth's plugin, libsodium, liblmdb, libstdc++ (anonymous: none of it is loaded, 0);
  dynsec: its plugin, cJSON, libcrypto; password_file: libcrypto. instr/conn: user-space
  instructions per CONNECT cycle under callgrind; +instr: minus anonymous (same username).
EOF
if [ "$CALLGRIND" = 1 ]; then
    show_profile keyauth_same 'keyauth|crypto_generichash|on_basic_auth|on_tick|on_disconnect|SessionTable' 24 \
        'Where keyauth_same spends its instructions (inclusive, per CONNECT):'
fi
if [ "$PERF" = 1 ]; then
    printf '\nkeyauth_token: keyauth samples by symbol (perf):\n'
    perf_top_symbols "$WORK"/perf-keyauth_token-*.data
fi
printf '\nbroker with the registry open: RssAnon %s kB (anonymous broker %s kB), RssFile %s kB (%s kB), Pss %s kB, Private_Dirty %s kB\n' \
    "$anon" "$anon0" "$file" "$file0" "$pss" "$pdirty"
echo "RESULT mqtt_broker_rss_anon_kb $anon" >>"$WORK/summary"
echo "RESULT mqtt_broker_rss_file_kb $file" >>"$WORK/summary"
cat "$WORK/summary"
