#!/bin/bash
# NGINX throughput with and without keyauth, side by side in one run.
#
#   tests/bench/nginx_bench.sh [--build-dir DIR] [--registry DIR] [--duration S]
#                              [--rounds N] [--connections N] [--pin] [--smoke]
#
# One nginx, one worker, wrk with one thread (with --pin: the worker on the
# last CPU, wrk on the first; off by default, as pinning on a machine shared
# with other work starves both), a 128-byte static file behind six locations:
#   none             no access control
#   keyauth valid    keyauth on, one valid token on every request
#   keyauth rotating keyauth on, a different valid client per request (the
#                    registry's bench-tokens.txt sample: 4 096 of a million)
#   keyauth invalid  keyauth on, a wrong secret for a registered id (401)
#   auth_basic       auth_basic with a {PLAIN} user file
#   auth_request     auth_request to an internal location answering 204
# Every case runs once per round, in a rotated order, for --duration seconds;
# the table gives the median requests/s and its ratio to `none`. Every case
# goes through the same wrk Lua request() hook, so the client's cost is equal.
#
# The module: $NGINX_MODULE, else the build tree's nginx-module/. The registry:
# --registry DIR (a core_bench cache, e.g. /tmp/keyauth-bench-cache/clients-1000000),
# else a small one made here by keytool.
source "$(dirname "$0")/bench_lib.sh"

BUILD_ARG="" REGISTRY_ARG="" DURATION=3 ROUNDS=5 CONNECTIONS=32 PIN=0
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) BUILD_ARG=$2; shift ;;
    --registry) REGISTRY_ARG=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --connections) CONNECTIONS=$2; shift ;;
    --smoke) DURATION=1 ROUNDS=1 ;;
    --pin) PIN=1 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done

bench_init "$BUILD_ARG"
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
[ -x "$NGINX" ] || die "no nginx at $NGINX"
command -v "$WRK" >/dev/null || die "no wrk"
[ -f "$NGINX_MODULE" ] || die "no module at $NGINX_MODULE (build target ngx_http_keyauth_module, or set NGINX_MODULE)"

prepare_registry "$REGISTRY_ARG" "$WORK"

PREFIX=$WORK/nginx
mkdir -p "$PREFIX/conf"
for loc in none keyauth basic authreq; do
    mkdir -p "$PREFIX/html/$loc"
    head -c 127 /dev/zero | tr '\0' 'k' >"$PREFIX/html/$loc/file.txt"
    echo >>"$PREFIX/html/$loc/file.txt"
done
echo 'bench:{PLAIN}benchpassword' >"$PREFIX/conf/htpasswd"

AFFINITY="" PIN_WRK="" WORKER_CPU=any
if [ "$PIN" = 1 ]; then
    WORKER_CPU=$(($(nproc) - 1)) PIN_WRK="taskset -c 0"
    # worker_cpu_affinity takes a bit mask, lowest CPU rightmost.
    AFFINITY=1$(printf '%*s' "$WORKER_CPU" '' | tr ' ' 0)
fi
PORT=$(free_port)
start_nginx_bench "$PREFIX" 1 "$AFFINITY" "
    server {
        listen 127.0.0.1:$PORT;
        root $PREFIX/html;
        keyauth_registry $REGISTRY;
        location /none/ { }
        location /keyauth/ { keyauth on; }
        location /basic/ {
            auth_basic bench;
            auth_basic_user_file $PREFIX/conf/htpasswd;
        }
        location /authreq/ { auth_request /_auth; }
        location = /_auth { internal; return 204; }
    }"
WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)

# The Authorization values of each case, one per line (none: no header).
VALID=$(head -1 "$TOKENS_FILE")
WRONG="${VALID%:b:*}:b:$(printf '%064d' 0)"
: >"$WORK/auth-none"
echo "Bearer $VALID" >"$WORK/auth-keyauth_valid"
sed 's/^/Bearer /' "$TOKENS_FILE" >"$WORK/auth-keyauth_rotating"
echo "Bearer $WRONG" >"$WORK/auth-keyauth_invalid"
echo "Basic $(printf 'bench:benchpassword' | base64)" >"$WORK/auth-auth_basic"
: >"$WORK/auth-auth_request"
cat >"$WORK/cycle.lua" <<'EOF'
-- The same request() hook for every case: cycles through prepared requests.
local requests, i = {}, 0
init = function(args)
    local f = io.open(os.getenv("WRK_AUTH_FILE"))
    for line in f:lines() do
        requests[#requests + 1] = wrk.format(nil, nil, { ["Authorization"] = line })
    end
    f:close()
    if #requests == 0 then requests[1] = wrk.format() end
end
request = function()
    i = i % #requests + 1
    return requests[i]
end
EOF

CASES=(none keyauth_valid keyauth_rotating keyauth_invalid auth_basic auth_request)
declare -A PATH_OF=([none]=/none/file.txt [keyauth_valid]=/keyauth/file.txt
    [keyauth_rotating]=/keyauth/file.txt [keyauth_invalid]=/keyauth/file.txt
    [auth_basic]=/basic/file.txt [auth_request]=/authreq/file.txt)
declare -A EXPECT_STATUS=([keyauth_invalid]=401)

# Each case answers as expected before anything is timed.
for c in "${CASES[@]}"; do
    header=$(head -1 "$WORK/auth-$c")
    code=$(curl -s -o /dev/null -w '%{http_code}' ${header:+-H "Authorization: $header"} \
        "http://127.0.0.1:$PORT${PATH_OF[$c]}")
    [ "$code" = "${EXPECT_STATUS[$c]:-200}" ] || die "case $c answers $code, not ${EXPECT_STATUS[$c]:-200}"
done

# run_case CASE -> "rps worker_cpu_percent non2xx worker_us_per_request"
run_case() {
    local c=$1 out before after
    before=$(cpu_seconds "$WORKER")
    out=$(WRK_AUTH_FILE="$WORK/auth-$c" $PIN_WRK "$WRK" -t1 -c"$CONNECTIONS" \
        -d"${DURATION}s" -s "$WORK/cycle.lua" "http://127.0.0.1:$PORT${PATH_OF[$c]}" 2>&1)
    after=$(cpu_seconds "$WORKER")
    local rps non2xx requests
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
    [ -n "$rps" ] || die "wrk failed for $c: $out"
    awk -v r="$rps" -v b="$before" -v a="$after" -v d="$DURATION" -v n="${non2xx:-0}" \
        -v q="${requests:-0}" \
        'BEGIN { printf "%s %.0f %s %.2f\n", r, 100 * (a - b) / d, n, (q > 0 ? 1e6 * (a - b) / q : 0) }'
}

note "nginx on 127.0.0.1:$PORT, worker $WORKER on CPU $WORKER_CPU, wrk ${PIN_WRK:-unpinned};" \
    "registry $REGISTRY ($(registry_clients "$REGISTRY") clients);" \
    "$ROUNDS rounds x ${#CASES[@]} cases x ${DURATION}s, $CONNECTIONS connections"
MEM_IDLE=$(memory_of "$WORKER")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for ((round = 0; round < ROUNDS; round++)); do
    for ((k = 0; k < ${#CASES[@]}; k++)); do
        c=${CASES[$(((k + round) % ${#CASES[@]}))]}
        read -r rps cpu non2xx us < <(run_case "$c")
        echo "$c $rps $cpu $non2xx $us" >>"$WORK/results"
        note "round $((round + 1)) $c: $rps req/s, worker CPU $cpu% ($us us/request), non-2xx $non2xx"
        if [ "${EXPECT_STATUS[$c]:-200}" = 200 ] && [ "$non2xx" != 0 ]; then
            die "$c had $non2xx failed requests"
        fi
    done
done
MEM_LOADED=$(memory_of "$WORKER")

base=$(awk '$1 == "none" {print $2}' "$WORK/results" | median)
base_us=$(awk '$1 == "none" {print $5}' "$WORK/results" | median)
printf '\nload average before: %s\n' "$LOAD_BEFORE"
printf 'NGINX 1.22.1, 1 worker, wrk -t1 -c%s -d%ss, %s rounds (median), registry of %s clients\n' \
    "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(registry_clients "$REGISTRY")"
printf '%-18s %12s %8s %16s %12s %12s\n' case 'requests/s' 'ratio' 'req/s min..max' 'worker CPU%' 'worker us/req'

for c in "${CASES[@]}"; do
    med=$(awk -v c="$c" '$1 == c {print $2}' "$WORK/results" | median)
    cpu=$(awk -v c="$c" '$1 == c {print $3}' "$WORK/results" | median)
    range=$(awk -v c="$c" '$1 == c {print $2}' "$WORK/results" | sort -g |
        awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f..%.0f", lo, hi}')
    us=$(awk -v c="$c" '$1 == c {print $5}' "$WORK/results" | median)
    printf '%-18s %12.0f %8s %16s %12s %12s\n' "$c" "$med" "$(ratio "$med" "$base")" "$range" "$cpu" "$us"
    echo "RESULT nginx_${c}_worker_us_per_request $us" >>"$WORK/summary"
    echo "RESULT nginx_${c}_rps $med" >>"$WORK/summary"
    echo "RESULT nginx_${c}_cost_ratio $(ratio "$base_us" "$us")" >>"$WORK/summary"
    echo "RESULT nginx_${c}_ratio $(ratio "$med" "$base")" >>"$WORK/summary"
done
read -r anon file pss pdirty <<<"$MEM_LOADED"
read -r anon0 file0 _ _ <<<"$MEM_IDLE"
printf '\nworker memory: RssAnon %s kB (idle %s kB), RssFile %s kB (idle %s kB; LMDB pages mapped), Pss %s kB, Private_Dirty %s kB\n' \
    "$anon" "$anon0" "$file" "$file0" "$pss" "$pdirty"
echo "RESULT nginx_worker_rss_anon_kb $anon" >>"$WORK/summary"
echo "RESULT nginx_worker_rss_file_kb $file" >>"$WORK/summary"
echo "RESULT nginx_worker_private_dirty_kb $pdirty" >>"$WORK/summary"
if grep -E '\[(alert|crit|emerg)\]' "$PREFIX/logs/error.log" >&2; then die "nginx error log not clean"; fi
cat "$WORK/summary"
