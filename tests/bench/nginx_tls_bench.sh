#!/bin/bash
# NGINX client certificates: keyauth's certificate check beside TLS alone.
#
#   tests/bench/nginx_tls_bench.sh [--build-dir DIR] [--registry DIR] [--small-registry DIR]
#       [--duration S] [--rounds N] [--connections N] [--requests N] [--no-profile] [--smoke]
#
# One nginx worker, a 17-byte static file over HTTPS, ssl_verify_client on
# against the registry's CA in both cases, and one registered client
# certificate (keytool gen, deleted again at exit):
#   tls_verify    ssl_verify_client on alone
#   tls_keyauth   the same, and keyauth_client_cert on (the certificate must
#                 be registered and live)
# each in two modes:
#   keepalive     many requests per handshake (curl, one connection per curl)
#   handshake     a full handshake per request (Connection: close, curl
#                 --no-sessionid: no session resumption)
# 1. CPU samples: perf record -e cpu-clock on the worker while --connections
#    curls load one case and mode (--rounds rounds of --duration s, cases in
#    turn); keyauth's share (bench_lib.sh's KEYAUTH_DSOS) and libcrypto's,
#    which holds the certificate's SHA-256 keyauth asks for.
# 2. Instructions: each case and mode in an nginx under callgrind (one
#    process), --requests requests (a tenth of it for handshakes) after
#    warm-up ones; per request, and tls_keyauth minus tls_verify: what
#    keyauth adds (its calls into libcrypto included).
# The registry: --registry DIR (e.g. /tmp/keyauth-bench-cache/perf/clients-1000000),
# else a small one made here; --small-registry: instructions on it too.
source "$(dirname "$0")/bench_lib.sh"

BENCH_OPTIONS="--build-dir --registry --small-registry --duration --rounds --connections --requests --pin --no-profile --smoke"
DURATION=3 ROUNDS=3 CONNECTIONS=4 REQUESTS=1000
bench_options "$@"
if [ "$SMOKE" = 1 ]; then DURATION=1 ROUNDS=1 REQUESTS=20; fi
WARM=50

bench_init "$BUILD_ARG"
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || die "no nginx at $NGINX"
command -v curl >/dev/null || die "no curl"
[ -f "$NGINX_MODULE" ] || die "no module at $NGINX_MODULE (build target ngx_http_keyauth_module, or set NGINX_MODULE)"
prepare_registry "$REGISTRY_ARG" "$WORK"
SMALL_REGISTRY=""
[ -n "$SMALL_REGISTRY_ARG" ] && SMALL_REGISTRY=$(cd "$SMALL_REGISTRY_ARG" && pwd)

HTML=$WORK/html
for loc in tlsonly keyauth; do
    mkdir -p "$HTML/$loc"
    printf 'keyauth bench ok\n' >"$HTML/$loc/file.txt"  # 17 bytes
done
mkdir -p "$WORK/callgrind" "$WORK/issued"

# issue_client REGISTRY: a registered certificate in $WORK/issued/<registry's name>/.
issue_client() {
    local out=$WORK/issued/$(basename "$1")
    mkdir -p "$out"
    "$KEYTOOL" --registry "$1" gen tlsbench --force --output "$out/" >/dev/null ||
        die "keytool gen in $1 failed"
    at_exit "'$KEYTOOL' --registry '$1' del tlsbench >/dev/null 2>&1"
    echo "$out"
}

# Both cases' paths are as long (a 9-byte prefix): nginx's parse and
# location compare cost each the same.
declare -A PATH_OF=([tls_verify]=/tlsonly/file.txt [tls_keyauth]=/keyauth/file.txt)
# server_body PORT REGISTRY CASES...
server_body() {
    local port=$1 registry=$2 c
    shift 2
    echo "    server {
        listen 127.0.0.1:$port ssl;
        root $HTML;
        ssl_certificate $registry/server_cert.pem;
        ssl_certificate_key $registry/server_key.pem;
        ssl_client_certificate $registry/ca_cert.pem;
        ssl_verify_client on;"
    [[ " $* " == *" tls_keyauth "* ]] && echo "        keyauth_registry $registry;"
    for c in "$@"; do
        case $c in
        tls_verify) echo "        location /tlsonly/ { }" ;;
        tls_keyauth) echo "        location /keyauth/ { keyauth_client_cert on; }" ;;
        esac
    done
    echo "    }"
}

# curl_load MODE ISSUED URL COUNT: COUNT requests of URL presenting the
# issued certificate; one status code per line on stdout.
curl_load() {
    local mode=$1 issued=$2 url=$3 count=$4 extra=()
    [ "$mode" = handshake ] && extra=(--no-sessionid -H 'Connection: close')
    stdbuf -oL curl -sk --http1.1 "${extra[@]}" --cert "$issued/tlsbench_cert.pem" --key "$issued/tlsbench_key.pem" \
        -o /dev/null -w '%{http_code}\n' "$url?[1-$count]"
}
# expect_ok: every status on stdin is 200 (and there are any).
expect_ok() {
    awk '$1 != 200 {bad++} {n++} END {exit (n == 0 || bad > 0)}'
}

ISSUED=$(issue_client "$REGISTRY")
CASES=(tls_verify tls_keyauth)
MODES=(keepalive handshake)

# ---- 1: CPU samples of the worker ----------------------------------------------
PERF=0
have_perf && PERF=1
if [ "$PERF" = 1 ]; then
    PORT=$(free_port)
    start_nginx_bench "$WORK/nginx" 1 "" "$(server_body "$PORT" "$REGISTRY" "${CASES[@]}")"
    WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)
    for c in "${CASES[@]}"; do
        curl_load keepalive "$ISSUED" "https://127.0.0.1:$PORT${PATH_OF[$c]}" 2 | expect_ok ||
            die "$c does not answer 200"
    done
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    for ((round = 0; round < ROUNDS; round++)); do
        for m in "${MODES[@]}"; do
            for ((k = 0; k < ${#CASES[@]}; k++)); do
                c=${CASES[$(((k + round) % ${#CASES[@]}))]}
                perf_start "$WORKER" "$WORK/perf-$c-$m-$round.data"
                pids=()
                for ((i = 0; i < CONNECTIONS; i++)); do
                    curl_load "$m" "$ISSUED" "https://127.0.0.1:$PORT${PATH_OF[$c]}" 100000000 \
                        >"$WORK/status-$c-$m-$round-$i" 2>/dev/null &
                    pids+=($!)
                done
                sleep "$DURATION"
                for p in "${pids[@]}"; do pkill -INT -P "$p" -x curl 2>/dev/null || true; done  # our own curls
                wait "${pids[@]}" 2>/dev/null || true
                perf_stop
                n=$(cat "$WORK"/status-"$c"-"$m"-"$round"-* | grep -c '^200$' || true)
                bad=$(cat "$WORK"/status-"$c"-"$m"-"$round"-* | grep -vc '^200$\|^000$' || true)
                [ "$bad" = 0 ] || die "$c $m: $bad answers other than 200"
                echo "$c $m $round $n" >>"$WORK/requests"
                note "round $((round + 1)) $c $m: $n requests in ${DURATION}s"
            done
        done
    done
    if grep -E '\[(alert|crit|emerg)\]' "$WORK/nginx/logs/error.log" >&2; then die "nginx error log not clean"; fi
fi

# ---- 2: instructions under callgrind --------------------------------------------
declare -A INSTRUCTIONS=()
# SIGQUIT's graceful exit never ends after TLS connections in a single
# process: SIGTERM exits at once, and both runs of a case end alike.
export CALLGRIND_NGINX_STOP=TERM
CALLGRIND=0
have_callgrind && CALLGRIND=1
# count_case NAME CASE MODE REGISTRY ISSUED
count_case() {
    local name=$1 c=$2 m=$3 registry=$4 issued=$5 modules="" port n=$REQUESTS warm=$WARM
    [ "$c" = tls_keyauth ] && modules=$NGINX_MODULE
    if [ "$m" = handshake ]; then n=$((REQUESTS / 10)) warm=$((WARM / 5)); fi
    [ "$n" -gt 0 ] || n=1
    port=$(free_port)
    local body url
    body=$(server_body "$port" "$registry" "$c")
    url="https://127.0.0.1:$port${PATH_OF[$c]}"
    # shellcheck disable=SC2016
    callgrind_nginx "$name-a" "$modules" "$body" "$port" \
        bash -c "$(declare -f curl_load expect_ok); curl_load $m '$issued' '$url' $warm | expect_ok"
    callgrind_nginx "$name-b" "$modules" "$body" "$port" \
        bash -c "$(declare -f curl_load expect_ok); curl_load $m '$issued' '$url' $((warm + n)) | expect_ok"
    INSTRUCTIONS[$name]=$(per_op "$WORK/callgrind/$name-a.out" "$WORK/callgrind/$name-b.out" "$n")
    echo "$n" >"$WORK/callgrind/$name.count"
    note "callgrind $name: ${INSTRUCTIONS[$name]} instructions/request ($n requests)"
}
if [ "$CALLGRIND" = 1 ]; then
    for m in "${MODES[@]}"; do
        for c in "${CASES[@]}"; do count_case "$c-$m" "$c" "$m" "$REGISTRY" "$ISSUED"; done
    done
    if [ -n "$SMALL_REGISTRY" ]; then
        SMALL_ISSUED=$(issue_client "$SMALL_REGISTRY")
        for m in "${MODES[@]}"; do
            for c in "${CASES[@]}"; do count_case "$c-$m-small" "$c" "$m" "$SMALL_REGISTRY" "$SMALL_ISSUED"; done
        done
    fi
fi

# ---- the table -------------------------------------------------------------------
printf '\nload average before: %s, after: %s\n' "${LOAD_BEFORE:--}" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'NGINX, 1 worker, HTTPS, ssl_verify_client on, %s curls x %ss x %s rounds; registry of %s clients\n' \
    "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(registry_clients "$REGISTRY")"
printf '%-12s %-10s %9s %10s %10s %9s %11s %9s\n' case mode requests keyauth% libcrypto% samples instr/req +instr
for m in "${MODES[@]}"; do
    for c in "${CASES[@]}"; do
        share=- crypto=- samples=- requests=-
        if [ "$PERF" = 1 ]; then
            read -r share samples < <(perf_share "$WORK"/perf-"$c"-"$m"-*.data)
            read -r crypto _ < <(KEYAUTH_DSOS=libcrypto perf_share "$WORK"/perf-"$c"-"$m"-*.data)
            requests=$(awk -v c="$c" -v m="$m" '$1 == c && $2 == m {n += $4} END {print n + 0}' "$WORK/requests")
        fi
        instr=${INSTRUCTIONS[$c-$m]:-} extra=""
        if [ -n "$instr" ] && [ -n "${INSTRUCTIONS[tls_verify-$m]:-}" ]; then
            extra=$((instr - INSTRUCTIONS[tls_verify-$m]))
        fi
        printf '%-12s %-10s %9s %10s %10s %9s %11s %9s\n' "$c" "$m" "$requests" "$share" "$crypto" \
            "$samples" "${instr:--}" "${extra:--}"
        {
            profile_results "nginx_${c}_$m" "$share" "$instr" "$extra"
            [ "$crypto" = - ] || echo "RESULT nginx_${c}_${m}_libcrypto_share_pct $crypto"
        } >>"$WORK/summary"
        small=${INSTRUCTIONS[$c-$m-small]:-}
        if [ -n "$small" ]; then
            extra=$((small - INSTRUCTIONS[tls_verify-$m-small]))
            printf '%-12s %-10s %9s %10s %10s %9s %11s %9s\n' "$c" "$m-small" - - - - "$small" "$extra"
            echo "RESULT nginx_${c}_${m}_small_extra_instructions $extra" >>"$WORK/summary"
        fi
    done
done
cat <<'EOF'
  keyauth%: perf cpu-clock samples of the worker (user and kernel) in keyauth's module,
  libsodium, liblmdb, libstdc++; libcrypto%: in libcrypto (TLS's own, and the SHA-256 of
  the certificate keyauth asks for). instr/req: user-space instructions per request under
  callgrind; +instr: minus tls_verify in the same mode (-small: on --small-registry).
EOF
if [ "$CALLGRIND" = 1 ]; then
    show_profile tls_keyauth-keepalive \
        'keyauth|X509_digest|SHA256|EVP_Digest|i2d_|SSL_get_peer|SSL_get_verify' 25 \
        'Where tls_keyauth spends its instructions on a kept-alive connection (inclusive, per request):'
fi
if [ "$PERF" = 1 ]; then
    printf '\ntls_keyauth keepalive: keyauth samples by symbol (perf):\n'
    perf_top_symbols "$WORK"/perf-tls_keyauth-keepalive-*.data
fi
cat "$WORK/summary"
