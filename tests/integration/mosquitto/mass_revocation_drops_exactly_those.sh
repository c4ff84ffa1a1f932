# 1 000 live token sessions, one per client; 500 of the clients deleted:
# exactly those 500 sessions are dropped, each within a second.
source "$TESTLIB"
source "$BROKER_LIB"
ulimit -n 4096  # the broker and the clients each hold 1 000 sockets

ids=()
for i in $(seq 1 1000); do ids+=("c$i"); done
printf '%s\n' "${ids[@]}" | xargs -P 4 -n 25 sh -c 'for id; do "$KEYTOOL" gen "$id" >/dev/null || exit 1; done' sh \
    || fail "gen of 1000 clients"
start_broker

python3 "$(dirname "$BROKER_LIB")/hold_sessions.py" "$TOKEN_PORT" "$WORK/ready" "$WORK/go" 1.5 \
    ./c*_token >"$WORK/closed" 2>"$WORK/hold.err" &
holder=$!
for _ in $(seq 600); do [ -e "$WORK/ready" ] || ! kill -0 "$holder" 2>/dev/null || sleep 0.1; done
[ -e "$WORK/ready" ] || fail "sessions not established: $(cat "$WORK/hold.err")"
pass "1000 token sessions connected"

# Every even-numbered client goes, in one keytool del each.
deleted=()
for i in $(seq 2 2 1000); do deleted+=("c$i"); done
for id in "${deleted[@]}"; do keytool del "$id" >/dev/null; done
touch "$WORK/go"
wait "$holder" || fail "session holder failed: $(cat "$WORK/hold.err")"

expect_eq "$(wc -l <"$WORK/closed")" "500" "sessions dropped"
expect_eq "$(sort "$WORK/closed")" "$(printf '%s\n' "${deleted[@]}" | sort)" "the dropped sessions are the deleted clients'"
pass "exactly the 500 deleted clients' sessions were dropped"
