# Debian's Prometheus on loopback, with conf-examples/prometheus/ as shipped
# (its ports and a 1 s interval changed), scraping a fleet host: nginx's
# keyauth_status, the broker's $SYS/broker/keyauth/ counters through
# prometheus-mqtt-exporter, keyauth-sync's --metrics. Refusals over HTTP and
# MQTT and one revocation (admin del of a client with an open request and a
# live session) move the counters read through Prometheus's HTTP API by
# exactly as much; the stream-cut alert fires.
source "$FLEET_LIB"
: "${PROMETHEUS_EXAMPLES:?PROMETHEUS_EXAMPLES must name conf-examples/prometheus}"
for program in prometheus prometheus-mqtt-exporter; do
    command -v "$program" >/dev/null || { echo "skip: $program is not installed"; exit 77; }
done

PAYLOAD='[ "wave.pi", 1675851592000000000, 3.1415]'

start_etcd_cluster
admin init >/dev/null
admin_gen alice bob prometheus01
SYNC_METRICS=$(free_port)
start_host 1 --metrics "127.0.0.1:$SYNC_METRICS"
wait_on_host 1 valid ./prometheus01_token
start_broker 1 "plugin_opt_sys_interval 1"
MQTT=${BROKER_PORT[1]}

# nginx, one worker (one verification cache): /db/ answers at once, /poll/
# never (a long poll to a listener that accepts and stays silent), and the
# status page at /metrics as conf-examples/nginx/keyauth-status.conf has it.
UPSTREAM=$(free_port)
SILENT=$(free_port)
HTTP=$(free_port)
STATUS=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(3600)' "$SILENT" &
at_exit "kill $! 2>/dev/null"
wait_for_port "$SILENT"
nginx_conf "$WORK/nginx" --module "$NGINX_MODULE" --user "www-data mosquitto" --workers 1 "
    server {
        listen 127.0.0.1:$UPSTREAM;
        location / { return 200 \"client=\$http_x_client_id\n\"; }
    }
    server {
        listen 127.0.0.1:$HTTP;
        keyauth_registry $(host_dir 1);
        keyauth on;
        proxy_set_header X-Client-Id \$keyauth_client_id;
        location /db/ { proxy_pass http://127.0.0.1:$UPSTREAM; }
        location /poll/ { proxy_pass http://127.0.0.1:$SILENT; proxy_read_timeout 600s; }
    }
    server {
        listen 127.0.0.1:$STATUS;
        location = /metrics { allow 127.0.0.1; deny all; keyauth_status; }
    }"
nginx_start "$WORK/nginx"

# The exporter as the example configures it: client prometheus01, its token
# read from a file, without the token file's newline (the exporter sends the
# file's bytes as they are).
EXPORTER=$(free_port)
sed "s|tcp://127.0.0.1:1883|tcp://127.0.0.1:$MQTT|" "$PROMETHEUS_EXAMPLES/mqtt-exporter.yaml" >exporter.yaml
printf '%s' "$(cat ./prometheus01_token)" >mqtt-password
MQTT2PROM_MQTT_PASSWORD=$WORK/mqtt-password prometheus-mqtt-exporter -config exporter.yaml \
    -listen-address 127.0.0.1 -listen-port "$EXPORTER" -treat-mqtt-password-as-file-name \
    >exporter.log 2>&1 &
at_exit "kill $! 2>/dev/null"

PROM=$(free_port)
cp "$PROMETHEUS_EXAMPLES/keyauth.rules.yml" .
sed -e "s/127.0.0.1:9145/127.0.0.1:$STATUS/" -e "s/127.0.0.1:9641/127.0.0.1:$EXPORTER/" \
    -e "s/127.0.0.1:9470/127.0.0.1:$SYNC_METRICS/" -e 's/_interval: 15s/_interval: 1s/' \
    "$PROMETHEUS_EXAMPLES/prometheus.yml" >prometheus.yml
grep -q "scrape_interval: 1s" prometheus.yml || fail "the example's scrape interval was not found to change"
prometheus --config.file=prometheus.yml --storage.tsdb.path="$WORK/prometheus-data" \
    --web.listen-address="127.0.0.1:$PROM" >prometheus.log 2>&1 &
at_exit "kill $! 2>/dev/null"

# query PROMQL: the value of a one-sample answer ("" when none).
query() {
    curl -s "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
result = json.load(sys.stdin)["data"]["result"]
print(result[0]["value"][1] if len(result) == 1 else "")'
}
query_is() { [ "$(query "$1")" == "$2" ]; }

# within SECONDS WHAT COMMAND...: COMMAND succeeds within SECONDS of wall
# clock (each try takes a curl and a python3: counted in tries, it would
# take far longer on a loaded machine).
within() {
    local seconds=$1 what=$2 deadline=$((SECONDS + $1))
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within $seconds s"
        sleep 0.2
    done
}

within 30 "Prometheus scraping nginx, the exporter and keyauth-sync" \
    query_is 'sum(up{job=~"keyauth_nginx|keyauth_mosquitto|keyauth_sync"})' 3
within 30 "the exporter admitted by the broker and reading \$SYS/broker/keyauth/" \
    query_is 'keyauth_mosquitto_sessions_tracked' 1
expect_eq "$(query 'mqtt2prometheus_connected')" 1 "the exporter connected"
# Every topic the plugin publishes is a series (but sessions/cut, the sum of
# sessions/cut/VERDICT): mqtt-exporter.yaml leaves none out.
within 10 "all 40 series of the broker's topics" \
    query_is 'count({job="keyauth_mosquitto",__name__=~"keyauth_mosquitto_.+"})' 40
pass "Prometheus scrapes nginx's keyauth_status, the broker through the exporter, keyauth-sync"

# Each counter before, then what it must have moved by.
declare -A before moved
counters=(
    'sum(keyauth_nginx_requests_total{verdict="accepted"})'
    'sum(keyauth_nginx_requests_total{verdict="malformed"})'
    'sum(keyauth_nginx_requests_total{verdict="unknown_client"})'
    'sum(keyauth_nginx_streams_cut_total{verdict="unknown_client"})'
    'keyauth_nginx_verification_cache_hits_total'
    'keyauth_nginx_verification_cache_misses_total'
    'keyauth_mosquitto_connects_total{credential="token",verdict="accepted"}'
    'keyauth_mosquitto_connects_total{credential="token",verdict="unknown_client"}'
    'keyauth_mosquitto_sessions_cut_total{verdict="unknown_client"}'
    'keyauth_mosquitto_verification_cache_hits_total'
    'keyauth_mosquitto_verification_cache_misses_total'
    'keyauth_sync_changes_applied_total'
)
for c in "${counters[@]}"; do
    before[$c]=$(query "$c")
    [[ "${before[$c]}" =~ ^[0-9]+$ ]] || fail "$c before: [${before[$c]}]"
done

GHOST="ghost01:b:$(printf '%064d' 7)"
bearer() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "http://127.0.0.1:$HTTP/db/query"; }
for _ in 1 2 3; do expect_eq "$(bearer "$(cat ./bob_token)")" 200 "bob's token"; done
for _ in 1 2; do expect_eq "$(bearer nope)" 401 "a malformed token"; done
expect_eq "$(bearer "$GHOST")" 401 "an unknown client's token"
printf '%s\n' "$GHOST" >ghost_token
out=$(publish 1 ./ghost_token "$PAYLOAD") && fail "the broker admitted an unknown client: $out"
expect_contains "$out" "not authorised" "mosquitto_pub with an unknown client's token"
for _ in 1 2; do out=$(publish 1 ./bob_token "$PAYLOAD") || fail "bob refused by the broker: $out"; done

# alice: a long poll open in nginx, a live session on the broker; then revoked.
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat ./alice_token)" \
    "http://127.0.0.1:$HTTP/poll/wait" >poll.out 2>&1 &
POLL=$!
at_exit "kill $POLL 2>/dev/null"
subscribe 1 alice:sub ./alice_token
ACCEPTED='sum(keyauth_nginx_requests_total{verdict="accepted"})'
within 10 "alice's long poll admitted" query_is "$ACCEPTED" "$((${before[$ACCEPTED]} + 4))"
admin del alice >/dev/null
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_until 10 "alice's session cut" gone "${SUB_PID[alice:sub]}"
wait_until 10 "alice's long poll cut" gone "$POLL"

moved=(
    ['sum(keyauth_nginx_requests_total{verdict="accepted"})']=4         # bob 3, alice's poll
    ['sum(keyauth_nginx_requests_total{verdict="malformed"})']=2
    ['sum(keyauth_nginx_requests_total{verdict="unknown_client"})']=1
    ['sum(keyauth_nginx_streams_cut_total{verdict="unknown_client"})']=1
    ['keyauth_nginx_verification_cache_hits_total']=2                  # bob's 2nd and 3rd
    ['keyauth_nginx_verification_cache_misses_total']=5                # bob's 1st, nope 2, ghost, alice
    ['keyauth_mosquitto_connects_total{credential="token",verdict="accepted"}']=3  # bob 2, alice
    # ghost, and alice's subscriber reconnecting once after the cut
    ['keyauth_mosquitto_connects_total{credential="token",verdict="unknown_client"}']=2
    ['keyauth_mosquitto_sessions_cut_total{verdict="unknown_client"}']=1
    ['keyauth_mosquitto_verification_cache_hits_total']=1              # bob's 2nd
    ['keyauth_mosquitto_verification_cache_misses_total']=4            # ghost, bob's 1st, alice twice
    ['keyauth_sync_changes_applied_total']=1                           # the del
)
for c in "${counters[@]}"; do
    within 15 "$c to move by ${moved[$c]} from ${before[$c]}" \
        query_is "$c" "$((${before[$c]} + ${moved[$c]}))"
done
# and they stay there: nothing counted twice
sleep 2
for c in "${counters[@]}"; do
    expect_eq "$(query "$c")" "$((${before[$c]} + ${moved[$c]}))" "$c, 2 s later"
done
pass "refusals, cache hits and misses, the revocation's cuts and the change applied: each counted exactly, as Prometheus reads them"

within 15 "the stream-cut alert firing for nginx and the broker" \
    query_is 'count(ALERTS{alertname="KeyauthStreamsCut",alertstate="firing"})' 2
expect_eq "$(query 'keyauth_sync_applied_revision')" "$(etcd_revision)" "the revision applied"
expect_eq "$(query 'count(ALERTS{alertname!="KeyauthStreamsCut"})')" "" "other alerts"
pass "keyauth.rules.yml on the real series: KeyauthStreamsCut fires for nginx and the broker, nothing else"
