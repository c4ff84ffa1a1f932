# One pass of accepted, refused and revoked clients, a SIGHUP and a clean
# shutdown with the broker under valgrind memcheck: no memory errors, nothing
# definitely lost.
source "$TESTLIB"
command -v valgrind >/dev/null || { echo "skip: valgrind is not installed"; exit 77; }
[ -z "${MOSQUITTO_PRELOAD:-}" ] || { echo "skip: valgrind cannot run a sanitized plugin"; exit 77; }
source "$BROKER_LIB"
gen_clients alice bob
BROKER_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite
    --error-exitcode=99 --keep-debuginfo=yes --log-file=$WORK/valgrind.log"
start_broker

start_subscriber alice -p "$TOKEN_PORT" --username "$(cat ./alice_token)" --id alice:sub
start_subscriber bob -p "$TLS_PORT" --id bob \
    --cert ./bob_cert.pem --key ./bob_key.pem --cafile ./server.crt
publish_with_token ./bob_token "one" -V 5 || fail "token refused"
mosquitto_pub -h 127.0.0.1 -p "$TOKEN_PORT" --username "bob:b:nonsense" \
    -t db/write/EXAMPLE -m "$PAYLOAD" 2>/dev/null && fail "bad token accepted"
publish_with_certificate ./bob "$PAYLOAD" --id wrong >/dev/null && fail "wrong id accepted"
wait_for_output bob "one" 20
keytool del alice >/dev/null
expect_in_log "disconnecting MQTT client 'alice:sub' of 'alice'" "revocation" 20
wait_for_exit alice 20
kill -HUP "$BROKER_PID"
expect_in_log "Reloading config" "reload" 20
publish_with_token ./bob_token "two" || fail "token refused after reload"
wait_for_output bob "two" 20

stop_broker
[ "$BROKER_STATUS" -ne 99 ] || { cat "$WORK/valgrind.log" >&2; fail "valgrind found errors"; }
expect_eq "$BROKER_STATUS" 0 "broker exit status"
summary=$(grep "ERROR SUMMARY" "$WORK/valgrind.log")
expect_contains "$summary" "ERROR SUMMARY: 0 errors" "valgrind"
! grep -q "definitely lost: [1-9]" "$WORK/valgrind.log" || fail "memory definitely lost"
pass "valgrind: $summary"
