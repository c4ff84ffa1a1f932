# 20 concurrent gens of distinct ids all land; 10 of one id: exactly one wins.
source "$TESTLIB"
keytool init >/dev/null

pids=()
for i in $(seq 1 20); do
    "$KEYTOOL" gen "client$i" >/dev/null 2>"err$i" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a concurrent gen failed: $(cat err*)"; done
expect_eq "$(keytool list --json | grep -c '"id"')" "20" "clients listed"
for i in $(seq 1 20); do keytool verify - <"client${i}_token" >/dev/null || fail "client$i token"; done

wins=0
pids=()
for i in $(seq 1 10); do
    "$KEYTOOL" gen same --output "./same$i" >/dev/null 2>"same_err$i" &
    pids+=($!)
done
for pid in "${pids[@]}"; do if wait "$pid"; then wins=$((wins + 1)); fi; done
expect_eq "$wins" "1" "successful gens of one id"
expect_eq "$(ls same*_token | wc -l)" "1" "token files of the one id"
keytool verify - <"$(ls same*_token)" >/dev/null || fail "the winner's token"
expect_eq "$(grep -l 'already exists' same_err* | wc -l)" "9" "losers say already exists"
pass "concurrent gens are serialized"
