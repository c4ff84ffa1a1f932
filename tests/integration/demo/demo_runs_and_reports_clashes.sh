# scripts/demo.sh piped, as in a log (the README's command, on free ports): no
# colour codes, the 401 body on its own line; then with a port taken, the
# server's own words and the overrides.
source "$TESTLIB"
: "${DEMO:?DEMO must name scripts/demo.sh}"
# The demo keeps its files for the user to look at: here, in the work directory.
export TMPDIR=$WORK
ports() { echo "MQTT_PORT=$(free_port) MQTTS_PORT=$(free_port) HTTP_PORT=$(free_port) UPSTREAM_PORT=$(free_port)"; }

# The README's command (its ports free ones here; the other two from the
# environment, which it inherits).
MQTTS_PORT=$(free_port) UPSTREAM_PORT=$(free_port) readme_run demo-ports \
    "s|MQTT_PORT=51883 |MQTT_PORT=$(free_port) |" "s|HTTP_PORT=51080 |HTTP_PORT=$(free_port) |" \
    "s|\./scripts/demo\.sh|bash $DEMO|" >demo.out 2>&1 || { cat demo.out; fail "demo failed"; }
[ -z "$(grep -l $'\033' demo.out)" ] || fail "colour codes in a pipe"
grep -qx '{"success":false,"reason":"invalid token"}' demo.out || fail "401 body not on its own line"
expect_contains "$(tail -1 demo.out)" "demo done" "demo finished"

taken=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(60)' "$taken" &
holder=$!
at_exit "kill $holder"
wait_for_port "$taken"
if env $(ports) MQTT_PORT="$taken" bash "$DEMO" >clash.out 2>&1; then fail "demo ran on a taken port"; fi
expect_contains "$(cat clash.out)" "Error: Address already in use" "the broker's own words"
expect_contains "$(cat clash.out)" "MQTT_PORT=$taken" "the override named"
if env $(ports) HTTP_PORT="$taken" bash "$DEMO" >clash.out 2>&1; then fail "demo ran on a taken port"; fi
expect_contains "$(cat clash.out)" "bind() to 127.0.0.1:$taken failed (98: Address already in use)" "nginx's own words"
pass "demo: clean in a pipe; a taken port reported in the server's words"
