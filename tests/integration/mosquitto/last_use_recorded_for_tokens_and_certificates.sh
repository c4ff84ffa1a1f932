# plugin_opt_last_use: the broker marks each client it admits, by token or
# by client certificate, and writes the marks to a file of the mosquitto
# user's own on its tick; keytool list --unused names the clients with no
# recorded use. A process holding the file's lock delays only the record.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice bob carol
new_last_use_file mosquitto
start_broker "plugin_opt_last_use $LAST_USE" "plugin_opt_last_use_interval 1"
expect_in_log "last use per client recorded in $LAST_USE every 1 s" "start-up message"

unused() { unused_clients "$LAST_USE" "$1"; }

T0=$(date +%s)
out=$(publish_with_token ./alice_token "$PAYLOAD") || fail "alice's token refused: $out"
out=$(publish_with_certificate ./bob "$PAYLOAD") || fail "bob's certificate refused: $out"
wait_for_last_use "$LAST_USE" alice
wait_for_last_use "$LAST_USE" bob
expect_eq "$(unused 10m)" "carol" "clients unused in the last 10 minutes"
for id in alice bob; do
    recorded=$(last_used "$LAST_USE" "$id")
    [ "$recorded" -ge $((T0 / 60 * 60)) ] && [ "$recorded" -le "$(date +%s)" ] ||
        fail "$id's last use $recorded is not in [$((T0 / 60 * 60)), now]"
done
expect_eq "$(stat -c '%U %a' "$LAST_USE")" "mosquitto 640" "the file's owner and mode"
pass "plugin_opt_last_use: a token and a certificate admission recorded; list --unused names carol"

hold_lock "$LAST_USE"
start=$(now_millis)
for _ in 1 2 3 4 5; do
    out=$(publish_with_token ./carol_token "$PAYLOAD") || fail "carol's token refused: $out"
done
elapsed=$(($(now_millis) - start))
[ "$elapsed" -lt 3000 ] || fail "5 CONNECTs took $elapsed ms while the file was held"
sleep 2.2    # two intervals: the tick found it held
expect_eq "$(last_used "$LAST_USE" carol)" "None" "carol's record while the file is held"
release_lock
wait_for_last_use "$LAST_USE" carol
expect_eq "$(unused 10m)" "" "unused once the file is released"
expect_not_contains "$(cat "$BROKER_LOG")" "last use:" "broker log (a held file is no failure)"
pass "plugin_opt_last_use: a held file delays the record ($elapsed ms for 5 CONNECTs), never a CONNECT"

expect_no_secret_in_log
