# `keytool suspend alice` cuts alice's live sessions (token and certificate)
# within a second and refuses her credentials, keeping her registered;
# `keytool resume alice` admits the same credentials again. bob is untouched.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob
start_broker

start_subscriber alice-token -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
start_subscriber alice-cert -p "$TLS_PORT" --id alice \
    --cert ./alice_cert.pem --key ./alice_key.pem --cafile ./server.crt
start_subscriber bob-token -p "$TOKEN_PORT" --username "$(cat ./bob_token)" --id bob:sub

expect_eq "$(keytool suspend alice)" "suspended" "keytool suspend"
expect_dropped "$(now_millis)" alice suspended alice:sub alice
pass "alice's sessions cut within $DROPPED_MS ms of suspend"
wait_for_exit alice-token
wait_for_exit alice-cert
expect_refused "$(publish_with_token ./alice_token "while suspended")" "alice's token while suspended"
expect_refused "$(publish_with_certificate ./alice "while suspended")" "alice's certificate while suspended"
expect_in_log "alice.*suspended" "the refusal logged with its reason"
expect_eq "$(keytool show alice --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')" \
    "suspended" "keytool show's state"
pass "suspended: refused, still registered"

expect_eq "$(keytool resume alice)" "resumed" "keytool resume"
out=$(publish_with_token ./alice_token "after resume") || fail "alice's token after resume: $out"
out=$(publish_with_certificate ./alice "cert after resume") || fail "alice's certificate after resume: $out"
wait_for_output bob-token "after resume"
wait_for_output bob-token "cert after resume"
! grep -q "disconnecting MQTT client '[^']*' of 'bob'" "$BROKER_LOG" || fail "bob was dropped"
pass "resumed: the same token and certificate admitted again; bob undisturbed"
expect_no_secret_in_log
