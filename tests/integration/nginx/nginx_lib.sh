# Helpers for the NGINX tests: the real /usr/sbin/nginx, our module, workers as
# www-data, a registry made by keytool. Sourced instead of "$TESTLIB", which
# it sources (and which moves into the test's $WORK).
#
#   keytool init --group www-data --host 127.0.0.1 --host localhost
#   UP=$(free_port) PORT=$(free_port)
#   start_nginx "server { listen 127.0.0.1:$PORT; ... }"
#   curl ... http://127.0.0.1:$PORT/...
#   expect_clean_error_log

NGINX_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$TESTLIB"
source "$NGINX_TESTS/../../lib/nginx.sh"
: "${NGINX_MODULE:?NGINX_MODULE must name ngx_http_keyauth_module.so}"
NGX_PREFIX=$WORK/nginx
NGX_ERROR_LOG=$NGX_PREFIX/logs/error.log
# Where libasan and UBSan report, when the module is sanitized (workers, as
# www-data, write there too).
NGX_SANITIZER_LOGS=$WORK/sanitizer
NGINX_SANITIZER_LOGS=$NGX_SANITIZER_LOGS
mkdir -p "$NGX_SANITIZER_LOGS"
chmod 1777 "$NGX_SANITIZER_LOGS"
# The refusal the seed shows, and what comes with it.
INVALID_TOKEN_BODY='{"success":false,"reason":"invalid token"}'
MISSING_TOKEN_BODY='{"success":false,"reason":"missing token"}'
INVALID_CERTIFICATE_BODY='{"success":false,"reason":"invalid certificate"}'
INVALID_TOKEN_CHALLENGE='WWW-Authenticate: Bearer realm="keyauth", error="invalid_token"'

# The upstream every protected location proxies to: it echoes what reached it.
upstream_server() {
    cat <<EOF
    server {
        listen 127.0.0.1:$1;
        location / {
            return 200 "client=\$http_x_client_id\n";
        }
        location /authorization {
            return 200 "authorization=\$http_authorization\n";
        }
    }
EOF
}

# write_nginx_conf HTTP_BLOCK_BODY: the whole nginx.conf of a test: our
# module, workers as NGX_USER (default www-data), NGX_WORKERS of them
# (default 2), logging at NGX_LOG_LEVEL (default info; notice: where nginx
# says it started, and we say what we enabled).
write_nginx_conf() {
    nginx_conf "$NGX_PREFIX" --module "$NGINX_MODULE" --user "${NGX_USER:-www-data}" \
        --workers "${NGX_WORKERS:-2}" --log-level "${NGX_LOG_LEVEL:-info}" "$1"
}

# A program that runs nginx as nginx_start does (under libasan when the
# module is sanitized), for scripts that take
# NGINX_BIN (never NGINX: nginx reads that variable for inherited sockets).
sanitized_nginx_program() {
    {
        echo "#!/bin/bash"
        declare -f nginx_sanitized
        echo "NGINX_PRELOAD='${NGINX_PRELOAD:-}'"
        echo "NGINX_SANITIZER_LOGS='$NGX_SANITIZER_LOGS'"
        echo "nginx_sanitized '$NGINX_BIN' \"\$@\""
    } >"$WORK/sanitized-nginx"
    chmod 755 "$WORK/sanitized-nginx"
    echo "$WORK/sanitized-nginx"
}

# nginx_test HTTP_BLOCK_BODY: runs "nginx -t"; prints its output, returns its
# exit code.
nginx_test() {
    write_nginx_conf "$1"
    nginx_run "$NGX_PREFIX" -t 2>&1
}

# expect_nginx_t_fails WHAT MESSAGE HTTP_BLOCK_BODY
expect_nginx_t_fails() {
    local out
    if out=$(nginx_test "$3"); then
        fail "$1: nginx -t accepted it: $out"
    fi
    expect_contains "$out" "$2" "$1"
    expect_contains "$out" "test failed" "$1"
}

# start_nginx HTTP_BLOCK_BODY: starts nginx (daemon, NGX_WORKERS workers) and
# returns once every worker runs.
start_nginx() {
    write_nginx_conf "$1"
    nginx_start "$NGX_PREFIX"
}

stop_nginx() { nginx_stop "$NGX_PREFIX"; }

# The pids of the running workers.
nginx_workers() { nginx_worker_pids "$NGX_PREFIX"; }
wait_for_workers() { nginx_wait_workers "$NGX_PREFIX" "$1"; }

# reload_nginx: nginx -s reload, on the test's configuration.
reload_nginx() { nginx_run "$NGX_PREFIX" -s reload; }

# reload_nginx_and_wait: reload_nginx, then until the old workers are gone
# and NGX_WORKERS new ones run.
reload_nginx_and_wait() {
    local old
    old=$(nginx_workers)
    reload_nginx
    for _ in $(seq 100); do
        [ -z "$(comm -12 <(echo "$old") <(nginx_workers))" ] && break
        sleep 0.05
    done
    expect_eq "$(comm -12 <(echo "$old") <(nginx_workers))" "" "old workers gone after reload"
    wait_for_workers "${NGX_WORKERS:-2}"
}

# A token's secret part: what must never reach a log.
token_secret() {
    local token
    token=$(cat "$1")
    echo "${token##*:}"
}

expect_no_sanitizer_reports() {
    if [ -n "$(ls -A "$NGX_SANITIZER_LOGS")" ]; then
        cat "$NGX_SANITIZER_LOGS"/* >&2
        fail "sanitizer reports from nginx"
    fi
}

# No sanitizer report, no crash, no alert, no secret of the given token
# files in the error log.
expect_clean_error_log() {
    local log f
    expect_no_sanitizer_reports
    log=$(cat "$NGX_ERROR_LOG")
    for word in '[alert]' '[crit]' '[emerg]' 'exited on signal' 'segfault'; do
        expect_not_contains "$log" "$word" "nginx error log"
    done
    for f in "$@"; do
        expect_not_contains "$log" "$(token_secret "$f")" "nginx error log (token $f)"
    done
}

# curl_status_body ARGS...: prints "STATUS BODY" of one request.
curl_status_body() {
    curl -s -o "$WORK/body" -w '%{http_code}' "$@"
    printf ' %s' "$(cat "$WORK/body")"
}

# token_server PORT LINES: Bearer tokens required on PORT (reuseport: the
# kernel spreads new connections over the workers), LINES inside.
token_server() {
    cat <<EOF2
    server {
        listen 127.0.0.1:$1 reuseport;
        keyauth_registry $KEYAUTH_REGISTRY;
        keyauth on;
$2
    }
EOF2
}

# The reverse proxy of the seed's /db/query, with Bearer tokens: the upstream
# on port $2 gets the client id in X-Client-Id.
protected_server() {
    token_server "$1" "        add_header X-Worker \$pid always;

        location / {
            proxy_pass http://127.0.0.1:$2;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }"
}

# The registry the workers (www-data) read, its server certificate for the
# names the tests connect to.
init_registry() {
    keytool init --group www-data --host 127.0.0.1 --host localhost >/dev/null
}

# start_protected_proxy [MORE_HTTP_CONFIG]: the upstream on $UP behind the
# protected proxy on $PORT; $URL is the seed's /db/query there.
start_protected_proxy() {
    UP=$(free_port)
    PORT=$(free_port)
    URL=http://127.0.0.1:$PORT/db/query
    start_nginx "$(upstream_server "$UP") $(protected_server "$PORT" "$UP") ${1:-}"
}

# start_proxy_recording_last_use: start_protected_proxy whose workers record
# last use (keyauth_last_use, every second) in $LAST_USE, in a directory of
# www-data's own; the file appears at the first flush after an admission.
start_proxy_recording_last_use() {
    new_last_use_file www-data
    start_protected_proxy "keyauth_last_use $LAST_USE interval=1s;"
}

# use_recorded ID: one request with ./ID_token admitted through the proxy,
# then its record in $LAST_USE.
use_recorded() {
    expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer $(cat "./$1_token")")" \
        "200 client=$1" "$1 through nginx"
    wait_for_last_use "$LAST_USE" "$1"
}

# status_and_worker URL CURL_ARGS...: "STATUS WORKER_PID" of one request on a
# new connection.
status_and_worker() {
    curl -s -o /dev/null -D - "$@" | tr -d '\r' \
        | awk '/^HTTP\// { s = $2 } tolower($1) == "x-worker:" { w = $2 } END { print s, w }'
}

# tls_server PORT VERIFY DIRECTIVES: HTTPS and HTTP/2 on PORT with the
# registry's server certificate, client certificates verified against its CA
# (ssl_verify_client VERIFY), keyauth_registry set, DIRECTIVES inside.
tls_server() {
    cat <<EOF2
    server {
        listen 127.0.0.1:$1 ssl http2 reuseport;
        ssl_certificate $KEYAUTH_REGISTRY/server_cert.pem;
        ssl_certificate_key $KEYAUTH_REGISTRY/server_key.pem;
        ssl_client_certificate $KEYAUTH_REGISTRY/ca_cert.pem;
        ssl_verify_client $2;

        keyauth_registry $KEYAUTH_REGISTRY;
$3
    }
EOF2
}

# proxy_naming_client UP: "location /", proxied to the upstream on UP with
# the admitted client's id in X-Client-Id (which the upstream echoes).
proxy_naming_client() {
    cat <<EOF2
        location / {
            proxy_pass http://127.0.0.1:$1;
            proxy_set_header X-Client-Id \$keyauth_client_id;
        }
EOF2
}

# certificate_server PORT LOCATIONS: client certificates required, and
# admitted only when registered and live (keyauth_client_cert on).
certificate_server() {
    tls_server "$1" on "        keyauth_client_cert on;
$2"
}
