#!/bin/bash
# NGINX with and without keyauth, and the peers a user would pick instead,
# side by side in one run, three ways:
#
#   tests/bench/nginx_bench.sh [--build-dir DIR] [--registry DIR] [--small-registry DIR]
#       [--duration S] [--rounds N] [--connections N] [--requests N] [--pin]
#       [--no-profile] [--smoke]
#
# 1. Wall clock: one nginx, one worker, wrk -t1 (with --pin: the worker on
#    the last CPU, wrk on the first), a 17-byte static file behind a
#    location per case; every case once per round, rounds in rotated order,
#    medians. Noisy on a shared machine: never read a gain into it.
# 2. CPU samples: perf record -e cpu-clock on the worker during each case;
#    the share of the samples in the case's own code (keyauth: the module,
#    libsodium, liblmdb, libstdc++; Lua: the lua module, ndk, LuaJIT).
# 3. Instructions: each case alone in an nginx under callgrind (one process,
#    only the modules that case needs), the same request --requests times on
#    one keep-alive connection after 50 unmeasured ones; user-space
#    instructions per request, and the difference to no auth with the same
#    Authorization header. No other process can move these.
# Cases:
#   none             no access control (the Bearer header is sent anyway)
#   keyauth_valid    keyauth on, one valid token on every request
#   keyauth_counted  keyauth_valid with a keyauth_status location: each
#                    verdict counted in the worker's slot of the status zone
#   keyauth_scrape   (callgrind only) GET of that keyauth_status page: the
#                    instructions of one scrape, summing every slot; the
#                    table then gives its share per request of keyauth_counted
#                    at one scrape a second
#   keyauth_rotating keyauth on, a different client per request (the
#                    registry's bench-tokens.txt: 4 096 of a million, so every
#                    lookup walks the tree)
#   keyauth_invalid  keyauth on, a wrong secret for a registered id (401)
#   auth_basic       auth_basic, a {PLAIN} user file (its own Basic header;
#                    its baseline is none_basic, no auth with that header)
#   auth_request     auth_request to a keep-alive upstream (a second nginx
#                    answering 204; its cost is not counted here)
#   lua_key          access_by_lua: the Bearer token looked up in a
#                    lua_shared_dict of the sample's tokens, as OpenResty and
#                    Kong's key-auth do (plain keys in memory)
# keyauth's instruction counts are also taken on --small-registry (1 000
# clients) when given. The registry: --registry DIR (a core_bench cache,
# e.g. /tmp/keyauth-bench-cache/clients-1000000), else a small one made here.
source "$(dirname "$0")/bench_lib.sh"

BENCH_OPTIONS="--build-dir --registry --small-registry --duration --rounds --connections --requests --pin --no-profile --smoke"
DURATION=3 ROUNDS=5 CONNECTIONS=32 REQUESTS=1000
bench_options "$@"
if [ "$SMOKE" = 1 ]; then DURATION=1 ROUNDS=1 REQUESTS=20; fi
WARM=50

bench_init "$BUILD_ARG"
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
LUA_MODULES="${NGINX_MODULES_DIR:-/usr/lib/nginx/modules}/ndk_http_module.so ${NGINX_MODULES_DIR:-/usr/lib/nginx/modules}/ngx_http_lua_module.so"
[ -x "$NGINX" ] || die "no nginx at $NGINX"
command -v "$WRK" >/dev/null || die "no wrk"
[ -f "$NGINX_MODULE" ] || die "no module at $NGINX_MODULE (build target ngx_http_keyauth_module, or set NGINX_MODULE)"
HAVE_LUA=1
for m in $LUA_MODULES; do [ -f "$m" ] || HAVE_LUA=0; done
[ "$HAVE_LUA" = 1 ] || note "no lua module (apt-get install libnginx-mod-http-lua): lua_key skipped"

prepare_registry "$REGISTRY_ARG" "$WORK"
SMALL_REGISTRY="" SMALL_TOKENS=""
if [ -n "$SMALL_REGISTRY_ARG" ]; then
    SMALL_REGISTRY=$(cd "$SMALL_REGISTRY_ARG" && pwd)
    SMALL_TOKENS=$SMALL_REGISTRY/bench-tokens.txt
fi

PREFIX=$WORK/nginx
HTML=$WORK/html
for loc in unkeyed keyauth counted htbasic authreq luakeys t; do
    mkdir -p "$HTML/$loc"
    printf 'keyauth bench ok\n' >"$HTML/$loc/file.txt"  # 17 bytes
done
mkdir -p "$WORK/conf" "$WORK/callgrind"
echo 'bench:{PLAIN}benchpassword' >"$WORK/conf/htpasswd"

# The Authorization values of each case, one per line (none: the Bearer
# header keyauth_valid sends, so both parse the same bytes).
VALID=$(head -1 "$TOKENS_FILE")
WRONG="${VALID%:b:*}:b:$(printf '%064d' 0)"
BASIC="Basic $(printf 'bench:benchpassword' | base64)"
echo "Bearer $VALID" >"$WORK/auth-none"
echo "Bearer $VALID" >"$WORK/auth-keyauth_valid"
echo "Bearer $VALID" >"$WORK/auth-keyauth_counted"
echo "Bearer $VALID" >"$WORK/auth-keyauth_scrape"
sed 's/^/Bearer /' "$TOKENS_FILE" >"$WORK/auth-keyauth_rotating"
echo "Bearer $WRONG" >"$WORK/auth-keyauth_invalid"
echo "$BASIC" >"$WORK/auth-auth_basic"
echo "Bearer $VALID" >"$WORK/auth-auth_request"
echo "Bearer $VALID" >"$WORK/auth-lua_key"

# The auth_request upstream: its own nginx, so the measured worker pays only
# for asking it.
AUTH_PORT=$(free_port)
start_nginx_bench "$WORK/authsvc" 1 "" "
    server {
        listen 127.0.0.1:$AUTH_PORT;
        location / { return 204; }
    }"

# location_of CASE REGISTRY: the location block serving that case. Every
# case's path is as long as every other's (a 9-byte prefix, /file.txt), so
# the request line's parse and the location's compare cost each case the
# same: a shorter baseline path put ~66 instructions on every figure.
location_of() {
    case $1 in
    none) echo "location /unkeyed/ { }" ;;
    keyauth_counted | keyauth_scrape) echo "location /counted/ { keyauth on; }
        location = /keyauth_status { keyauth_status; }" ;;
    keyauth*) echo "location /keyauth/ { keyauth on; }" ;;
    auth_basic) echo "location /htbasic/ { auth_basic bench; auth_basic_user_file $WORK/conf/htpasswd; }" ;;
    auth_request) echo "location /authreq/ { auth_request /_auth; }
        location = /_auth {
            internal;
            proxy_pass http://keyauth_bench_auth;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
        }" ;;
    lua_key) echo 'location /luakeys/ {
            access_by_lua_block {
                local h = ngx.var.http_authorization
                if not h or h:sub(1, 7):lower() ~= "bearer " or not ngx.shared.keys:get(h:sub(8)) then
                    return ngx.exit(401)
                end
            }
        }' ;;
    esac
}
# http_level CASES REGISTRY: what those cases need at http{} level.
http_level() {
    local cases=" $1 " registry=$2
    [[ $cases == *" auth_request "* ]] && echo "
    upstream keyauth_bench_auth { server 127.0.0.1:$AUTH_PORT; keepalive 16; }"
    [[ $cases == *" lua_key "* ]] && echo "
    lua_shared_dict keys 64m;
    init_by_lua_block {
        local keys = ngx.shared.keys
        for line in io.lines(\"$TOKENS_FILE\") do
            keys:set(line, line:match(\"^[^:]+\"))
        end
    }"
    true
}
declare -A PATH_OF=([none]=/unkeyed/file.txt [keyauth_valid]=/keyauth/file.txt
    [keyauth_counted]=/counted/file.txt [keyauth_scrape]=/keyauth_status
    [keyauth_rotating]=/keyauth/file.txt [keyauth_invalid]=/keyauth/file.txt
    [auth_basic]=/htbasic/file.txt [auth_request]=/authreq/file.txt [lua_key]=/luakeys/file.txt)
declare -A EXPECT_STATUS=([keyauth_invalid]=401)
# server_body PORT REGISTRY CASES...: one server with those cases' locations.
server_body() {
    local port=$1 registry=$2 c
    shift 2
    http_level "$*" "$registry"
    echo "    server {"
    echo "        listen 127.0.0.1:$port;"
    echo "        root $HTML;"
    [[ " $* " == *" keyauth"* ]] && echo "        keyauth_registry $registry;"
    local seen=""
    for c in "$@"; do
        local l
        l=$(location_of "$c")
        [[ $seen == *"$l"* ]] && continue
        seen+=$l
        echo "        $l"
    done
    echo "    }"
}

CASES=(none keyauth_valid keyauth_counted keyauth_rotating keyauth_invalid auth_basic auth_request)
[ "$HAVE_LUA" = 1 ] && CASES+=(lua_key)

# ---- 1 and 2: wall clock, with perf on the worker ---------------------------
AFFINITY="" PIN_WRK="" WORKER_CPU=any
if [ "$PIN" = 1 ]; then
    WORKER_CPU=$(($(nproc) - 1)) PIN_WRK="taskset -c 0"
    # worker_cpu_affinity takes a bit mask, lowest CPU rightmost.
    AFFINITY=1$(printf '%*s' "$WORKER_CPU" '' | tr ' ' 0)
fi
PORT=$(free_port)
NGINX_EXTRA_MODULES=""
[ "$HAVE_LUA" = 1 ] && NGINX_EXTRA_MODULES=$LUA_MODULES
start_nginx_bench "$PREFIX" 1 "$AFFINITY" "$(server_body "$PORT" "$REGISTRY" "${CASES[@]}")"
WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)
PERF=0
have_perf && PERF=1
[ "$PERF" = 1 ] || note "perf not usable (or --no-profile): no CPU-sample shares"

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

# Each case answers as expected before anything is timed.
for c in "${CASES[@]}"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $(head -1 "$WORK/auth-$c")" \
        "http://127.0.0.1:$PORT${PATH_OF[$c]}")
    [ "$code" = "${EXPECT_STATUS[$c]:-200}" ] || die "case $c answers $code, not ${EXPECT_STATUS[$c]:-200}"
done

# run_case CASE ROUND -> "rps worker_cpu_percent non2xx worker_us_per_request"
run_case() {
    local c=$1 out before after
    [ "$PERF" = 1 ] && perf_start "$WORKER" "$WORK/perf-$c-$2.data"
    before=$(cpu_seconds "$WORKER")
    out=$(WRK_AUTH_FILE="$WORK/auth-$c" $PIN_WRK "$WRK" -t1 -c"$CONNECTIONS" \
        -d"${DURATION}s" -s "$WORK/cycle.lua" "http://127.0.0.1:$PORT${PATH_OF[$c]}" 2>&1)
    after=$(cpu_seconds "$WORKER")
    perf_stop
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
: >"$WORK/results"
for ((round = 0; round < ROUNDS; round++)); do
    for ((k = 0; k < ${#CASES[@]}; k++)); do
        c=${CASES[$(((k + round) % ${#CASES[@]}))]}
        read -r rps cpu non2xx us < <(run_case "$c" "$round")
        echo "$c $rps $cpu $non2xx $us" >>"$WORK/results"
        note "round $((round + 1)) $c: $rps req/s, worker CPU $cpu% ($us us/request), non-2xx $non2xx"
        if [ "${EXPECT_STATUS[$c]:-200}" = 200 ] && [ "$non2xx" != 0 ]; then
            die "$c had $non2xx failed requests"
        fi
    done
done
MEM_LOADED=$(memory_of "$WORKER")
if grep -E '\[(alert|crit|emerg)\]' "$PREFIX/logs/error.log" >&2; then die "nginx error log not clean"; fi

# ---- 3: instructions under callgrind ----------------------------------------
declare -A INSTRUCTIONS=()
CALLGRIND=0
have_callgrind && CALLGRIND=1
[ "$CALLGRIND" = 1 ] || note "valgrind not usable (or --no-profile): no instruction counts"
# count_case NAME CASE REGISTRY TOKENS [AUTH_FILE]: instructions per request.
count_case() {
    local name=$1 c=$2 registry=$3 tokens=$4 auth=${5:-$WORK/auth-$2} modules="" port n=$REQUESTS
    case $c in
    keyauth*) modules=$NGINX_MODULE ;;
    lua_key) modules=$LUA_MODULES ;;
    esac
    port=$(free_port)
    local body client=(python3 "$BENCH_DIR/http_repeat.py" "$port" "${PATH_OF[$c]}")
    body=$(server_body "$port" "$registry" "$c")
    local status=${EXPECT_STATUS[$c]:-200}
    if [ "$c" = keyauth_rotating ]; then
        # Every measured request a client not seen before (a tiny registry: half warm-up).
        local lines warm=$WARM
        lines=$(grep -c . "$auth")
        [ "$lines" -lt $((2 * warm)) ] && warm=$((lines / 2))
        [ $((lines - warm)) -lt "$n" ] && n=$((lines - warm))
        callgrind_nginx "$name-a" "$modules" "$body" "$port" "${client[@]}" "$warm" --headers "$auth"
        callgrind_nginx "$name-b" "$modules" "$body" "$port" "${client[@]}" $((warm + n)) --headers "$auth"
    else
        local h
        h=$(head -1 "$auth")
        callgrind_nginx "$name-a" "$modules" "$body" "$port" "${client[@]}" "$WARM" "$h" --status "$status"
        callgrind_nginx "$name-b" "$modules" "$body" "$port" "${client[@]}" $((WARM + n)) "$h" --status "$status"
    fi
    INSTRUCTIONS[$name]=$(per_op "$WORK/callgrind/$name-a.out" "$WORK/callgrind/$name-b.out" "$n")
    echo "$n" >"$WORK/callgrind/$name.count"
    note "callgrind $name: ${INSTRUCTIONS[$name]} instructions/request ($n requests)"
}
if [ "$CALLGRIND" = 1 ]; then
    echo "$BASIC" >"$WORK/auth-none_basic"
    count_case none none "$REGISTRY" "$TOKENS_FILE"
    count_case none_basic none "$REGISTRY" "$TOKENS_FILE" "$WORK/auth-none_basic"
    for c in "${CASES[@]}"; do
        [ "$c" = none ] || count_case "$c" "$c" "$REGISTRY" "$TOKENS_FILE"
    done
    count_case keyauth_scrape keyauth_scrape "$REGISTRY" "$TOKENS_FILE"
    if [ -n "$SMALL_REGISTRY" ]; then
        echo "Bearer $(head -1 "$SMALL_TOKENS")" >"$WORK/auth-small_valid"
        sed 's/^/Bearer /' "$SMALL_TOKENS" >"$WORK/auth-small_rotating"
        count_case keyauth_valid_small keyauth_valid "$SMALL_REGISTRY" "$SMALL_TOKENS" "$WORK/auth-small_valid"
        count_case keyauth_rotating_small keyauth_rotating "$SMALL_REGISTRY" "$SMALL_TOKENS" "$WORK/auth-small_rotating"
    fi
fi

# ---- the table ----------------------------------------------------------------
base=$(awk '$1 == "none" {print $2}' "$WORK/results" | median)
base_us=$(awk '$1 == "none" {print $5}' "$WORK/results" | median)
printf '\nload average before: %s, after: %s\n' "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'NGINX 1.22.1, 1 worker, wrk -t1 -c%s -d%ss, %s rounds (median), registry of %s clients\n' \
    "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(registry_clients "$REGISTRY")"
printf '%-18s %10s %7s %14s %8s %8s %9s %9s %11s %9s\n' case 'req/s' 'ratio' 'min..max' 'CPU us' \
    'cost' 'own CPU%' 'samples' 'instr/req' '+instr'
# own_dsos CASE: what perf counts as that case's own code.
own_dsos() {
    case $1 in
    keyauth* | none) echo "$KEYAUTH_DSOS" ;;
    lua_key) echo 'lua|ndk|luajit' ;;
    *) echo '' ;;
    esac
}
for c in "${CASES[@]}"; do
    med=$(awk -v c="$c" '$1 == c {print $2}' "$WORK/results" | median)
    range=$(awk -v c="$c" '$1 == c {print $2}' "$WORK/results" | sort -g |
        awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f..%.0f", lo, hi}')
    us=$(awk -v c="$c" '$1 == c {print $5}' "$WORK/results" | median)
    share="-" samples="-"
    re=$(own_dsos "$c")
    if [ "$PERF" = 1 ] && [ -n "$re" ]; then
        read -r share samples < <(KEYAUTH_DSOS=$re perf_share "$WORK"/perf-"$c"-*.data)
    fi
    instr=${INSTRUCTIONS[$c]:-} extra=""
    if [ -n "$instr" ]; then
        baseline=${INSTRUCTIONS[none]}
        [ "$c" = auth_basic ] && baseline=${INSTRUCTIONS[none_basic]}
        extra=$((instr - baseline))
    fi
    printf '%-18s %10.0f %7s %14s %8s %8s %9s %9s %11s %9s\n' "$c" "$med" "$(ratio "$med" "$base")" "$range" \
        "$us" "$(ratio "$base_us" "$us")" "$share" "$samples" "${instr:--}" "${extra:--}"
    {
        echo "RESULT nginx_${c}_rps $med"
        echo "RESULT nginx_${c}_ratio $(ratio "$med" "$base")"
        echo "RESULT nginx_${c}_worker_us_per_request $us"
        echo "RESULT nginx_${c}_cost_ratio $(ratio "$base_us" "$us")"
        profile_results "nginx_$c" "$share" "$instr" "$extra"
    } >>"$WORK/summary"
done
if [ -n "${INSTRUCTIONS[keyauth_scrape]:-}" ]; then
    # One scrape a second, spread over the requests keyauth_counted served in that second.
    counted_rps=$(awk '$1 == "keyauth_counted" {print $2}' "$WORK/results" | median)
    scrape_share=$(awk -v i="${INSTRUCTIONS[keyauth_scrape]}" -v r="$counted_rps" \
        'BEGIN { printf "%.1f", (r > 0 ? i / r : 0) }')
    printf 'keyauth_scrape: %s instructions per scrape of keyauth_status; at 1 scrape/s and keyauth_counted'"'"'s %.0f req/s: +%s instructions per request\n' \
        "${INSTRUCTIONS[keyauth_scrape]}" "$counted_rps" "$scrape_share"
    echo "RESULT nginx_keyauth_scrape_instructions ${INSTRUCTIONS[keyauth_scrape]}" >>"$WORK/summary"
    echo "RESULT nginx_keyauth_scrape_share_per_request_at_1s $scrape_share" >>"$WORK/summary"
fi
for name in none_basic keyauth_valid_small keyauth_rotating_small; do
    [ -n "${INSTRUCTIONS[$name]:-}" ] || continue
    extra=$((INSTRUCTIONS[$name] - INSTRUCTIONS[none]))
    [ "$name" = none_basic ] && extra=0
    printf '%-22s %6s %7s %14s %8s %8s %9s %9s %11s %9s\n' "$name" - - - - - - - "${INSTRUCTIONS[$name]}" "$extra"
    echo "RESULT nginx_${name}_instructions ${INSTRUCTIONS[$name]}" >>"$WORK/summary"
    echo "RESULT nginx_${name}_extra_instructions $extra" >>"$WORK/summary"
done
cat <<'EOF'
  ratio: req/s against none (noisy). CPU us: the worker's CPU time per request (/proc);
  cost: none's CPU us / this case's. own CPU%: perf cpu-clock samples of the worker
  (user and kernel) in the case's own code: keyauth's module, libsodium, liblmdb,
  libstdc++ (none: keyauth's filters, loaded but off); lua_key: ndk, the lua module,
  LuaJIT. instr/req: user-space instructions per request under callgrind, each case
  alone; +instr: minus none with the same Authorization header (auth_basic: none_basic).
EOF

if [ "$CALLGRIND" = 1 ]; then
    show_profile keyauth_valid \
        'keyauth::|keyauth_check|ngx_http_keyauth_handler|crypto_generichash|crypto_verify|sodium_memzero' 30 \
        'Where keyauth_valid spends its instructions (inclusive, per request):'
    show_profile keyauth_rotating 'keyauth::(check|judge|LmdbRegistry|LookupCache|LookupIndex|parse|hash|decode)' 20 \
        'keyauth_rotating (a cold lookup per request), the registry read path:'
fi
if [ "$PERF" = 1 ]; then
    printf '\nkeyauth_valid: keyauth samples by symbol (perf):\n'
    perf_top_symbols "$WORK"/perf-keyauth_valid-*.data
fi

read -r anon file pss pdirty <<<"$MEM_LOADED"
read -r anon0 file0 _ _ <<<"$MEM_IDLE"
printf '\nworker memory: RssAnon %s kB (idle %s kB), RssFile %s kB (idle %s kB; LMDB pages mapped), Pss %s kB, Private_Dirty %s kB\n' \
    "$anon" "$anon0" "$file" "$file0" "$pss" "$pdirty"
{
    echo "RESULT nginx_worker_rss_anon_kb $anon"
    echo "RESULT nginx_worker_rss_file_kb $file"
    echo "RESULT nginx_worker_private_dirty_kb $pdirty"
} >>"$WORK/summary"
cat "$WORK/summary"
