#!/bin/bash
# Revocation latency: from `keytool del` returning to the first refused HTTP
# request (NGINX, two workers), and to the broker dropping a live MQTT session
# of the deleted client (Mosquitto with the plugin).
#
#   tests/bench/revocation_bench.sh [--build-dir DIR] [--registry DIR] [--trials N] [--smoke]
#
# Targets: HTTP immediate (the first request after del is refused), MQTT <= 1 s.
source "$(dirname "$0")/bench_lib.sh"

BENCH_OPTIONS="--build-dir --registry --trials --smoke"
TRIALS=5
bench_options "$@"
if [ "$SMOKE" = 1 ]; then TRIALS=2; fi
bench_init "$BUILD_ARG"
prepare_registry "$REGISTRY_ARG" "$WORK"

HAVE_NGINX=0 HAVE_MQTT=0
[ -f "$NGINX_MODULE" ] && HAVE_NGINX=1
[ -f "$MOSQUITTO_PLUGIN" ] && [ -x "$MQTT_CONNECT_BENCH" ] && HAVE_MQTT=1
[ $((HAVE_NGINX + HAVE_MQTT)) -gt 0 ] || die "neither the NGINX module nor the Mosquitto plugin is built"

if [ "$HAVE_NGINX" = 1 ]; then
    HTTP_PORT=$(free_port)
    mkdir -p "$WORK/nginx/html/api"
    echo ok >"$WORK/nginx/html/api/file.txt"
    start_nginx_bench "$WORK/nginx" 2 "" "
    server {
        listen 127.0.0.1:$HTTP_PORT;
        root $WORK/nginx/html;
        keyauth_registry $REGISTRY;
        location /api/ { keyauth on; }
    }"
fi
if [ "$HAVE_MQTT" = 1 ]; then
    MQTT_PORT=$(free_port)
    start_mosquitto revocation "$MQTT_PORT" "0-$(($(nproc) - 1))" "plugin $MOSQUITTO_PLUGIN
plugin_opt_registry $REGISTRY"
fi

status_of() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "http://127.0.0.1:$HTTP_PORT/api/file.txt"; }

for ((trial = 1; trial <= TRIALS; trial++)); do
    id=revokebench$trial
    "$KEYTOOL" --registry "$REGISTRY" gen "$id" --force --output "$WORK/" >/dev/null
    at_exit "'$KEYTOOL' --registry '$REGISTRY' del $id >/dev/null 2>&1"
    token=$(cat "$WORK/${id}_token")
    rm -f "$WORK/${id}"_*

    if [ "$HAVE_MQTT" = 1 ]; then
        "$MQTT_CONNECT_BENCH" --watch -p "$MQTT_PORT" -u "$token" -d 10 >"$WORK/watch" 2>&1 &
        watcher=$!
        # Up to 20 s: a CONNECT took over 5 s once with the test suite beside it.
        for _ in $(seq 400); do grep -q connected "$WORK/watch" && break; sleep 0.05; done
        grep -q connected "$WORK/watch" || die "the MQTT session did not connect: $(cat "$WORK/watch")"
    fi
    if [ "$HAVE_NGINX" = 1 ]; then
        # Both workers have answered this token before the deletion.
        for _ in 1 2 3 4; do [ "$(status_of "$token")" = 200 ] || die "valid token refused"; done
    fi

    "$KEYTOOL" --registry "$REGISTRY" del "$id" >/dev/null
    t_del=$(now_ns)

    if [ "$HAVE_NGINX" = 1 ]; then
        accepted_after=0
        while [ "$(status_of "$token")" = 200 ]; do accepted_after=$((accepted_after + 1)); done
        t_refused=$(now_ns)
        # and every later request, whichever worker takes it
        for _ in 1 2 3 4 5 6; do [ "$(status_of "$token")" = 401 ] || die "a worker accepted a deleted token"; done
        echo "http $(((t_refused - t_del) / 1000)) $accepted_after" >>"$WORK/results"
    fi
    if [ "$HAVE_MQTT" = 1 ]; then
        wait "$watcher" || die "the MQTT session was not dropped within 10 s: $(cat "$WORK/watch")"
        t_closed=$(awk '$1 == "closed" {print $2}' "$WORK/watch")
        echo "mqtt $(((t_closed - t_del) / 1000)) 0" >>"$WORK/results"
    fi
done

printf '\nRevocation latency after `keytool del` returns, %s trials, registry of %s clients\n' \
    "$TRIALS" "$(registry_clients "$REGISTRY")"
for kind in http mqtt; do
    grep -q "^$kind " "$WORK/results" 2>/dev/null || continue
    med=$(awk -v k="$kind" '$1 == k {print $2 / 1000}' "$WORK/results" | median)
    max=$(awk -v k="$kind" '$1 == k {print $2 / 1000}' "$WORK/results" | sort -g | tail -1)
    if [ "$kind" = http ]; then
        late=$(awk '$1 == "http" {s += $3} END {print s + 0}' "$WORK/results")
        printf '  HTTP: first refused request %s ms after (max %s ms); requests accepted after del: %s\n' \
            "$med" "$max" "$late"
        echo "RESULT revocation_http_ms $med"
        echo "RESULT revocation_http_accepted_after_del $late"
    else
        printf '  MQTT: live session dropped %s ms after (max %s ms)\n' "$med" "$max"
        echo "RESULT revocation_mqtt_ms $med"
        echo "RESULT revocation_mqtt_max_ms $max"
    fi
done
