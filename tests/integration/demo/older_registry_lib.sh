# What the upgrade tests share (sourced after "$TESTLIB", lib/nginx.sh and
# lib/mosquitto.sh): a registry an older release made, unpacked from
# tests/fixtures for servers in group mosquitto, and an nginx in front of a
# loopback upstream that echoes the client id keyauth admitted.
: "${NGINX_MODULE:?}" "${PLUGIN:?}" "${FIXTURES:?}"

# unpack_registry FIXTURE: ./registry and the clients' files beside it.
unpack_registry() {
    tar -xzf "$FIXTURES/$1"
    chgrp -R mosquitto "$KEYAUTH_REGISTRY"
    chmod 2750 "$KEYAUTH_REGISTRY"
}

# configure_nginx: $ng configured, /db/ on port $HTTP; $nginx_t tests it.
configure_nginx() {
    UP=$(free_port)
    HTTP=$(free_port)
    ng=$WORK/nginx
    nginx_conf "$ng" --module "$NGINX_MODULE" --user "www-data mosquitto" "
    server {
        listen 127.0.0.1:$UP;
        location / { return 200 \"client=\$http_x_client_id\n\"; }
    }
    keyauth_registry $KEYAUTH_REGISTRY;
    server {
        listen 127.0.0.1:$HTTP;
        location /db/ {
            keyauth on;
            proxy_set_header X-Client-Id \$keyauth_client_id;
            proxy_pass http://127.0.0.1:$UP;
        }
    }"
    nginx_t="${NGINX_PRELOAD:+env LD_PRELOAD=$NGINX_PRELOAD ASAN_OPTIONS=detect_leaks=0 }$NGINX_BIN -p $ng -c conf/nginx.conf -t"
}

# start_broker: a broker with the plugin, tokens on $MQTT, certificates on $MQTTS.
start_broker() {
    MQTT=$(free_port)
    MQTTS=$(free_port)
    local plugin
    plugin=$(mosquitto_readable_plugin "$PLUGIN" "$WORK")
    mosquitto_conf "$(mosquitto_plugin "$plugin" "$KEYAUTH_REGISTRY")" "$(mosquitto_listener "$MQTT")" \
        "$(mosquitto_listener "$MQTTS")" "$(mosquitto_tls "$KEYAUTH_REGISTRY")" >broker.conf
    mosquitto_start broker.conf broker.log
}
