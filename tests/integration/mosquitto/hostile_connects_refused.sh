# Hostile CONNECTs: overlong, binary, NUL-bearing, UTF-8, case-changed and
# wildcard-bearing usernames and client ids are refused (CONNACK 5 or the
# connection closed), never accepted, and the broker keeps serving.
source "$TESTLIB"
source "$BROKER_LIB"
gen_clients alice
start_broker
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
token=$(cat ./alice_token)
secret=${token#alice:b:}
wire="$(dirname "$BROKER_LIB")"

refused() {  # refused WHAT CLIENT_ID_HEX USERNAME_HEX [PASSWORD_HEX]
    local what=$1 got
    shift
    got=$(python3 "$wire/connect_once.py" "$TOKEN_PORT" "$@") || fail "$what: client error"
    [ "$got" == 5 ] || [ "$got" == closed ] || [ "$got" == 2 ] || [ "$got" == 4 ] ||
        fail "$what: expected a refusal, got CONNACK [$got]"
}
refused "64 KiB username" "$(hex h1)" "$(head -c 65000 /dev/zero | tr '\0' a | od -An -tx1 -v | tr -d ' \n')"
refused "binary username" "$(hex h2)" "00ff10fe80c0"
refused "NUL inside the token" "$(hex h3)" "$(hex "alice:b:${secret:0:32}")00$(hex "${secret:33}")"
refused "token then NUL" "$(hex h4)" "$(hex "$token")00"
refused "invalid UTF-8 in username" "$(hex h5)" "$(hex alice:b:)c3$(hex "${secret:1}")"
refused "UTF-8 lookalike id" "$(hex h6)" "$(hex "alicé:b:$secret")"
refused "upper-case scheme" "$(hex h7)" "$(hex "alice:B:$secret")"
refused "upper-case secret" "$(hex h8)" "$(hex "alice:b:${secret^^}")"
refused "token with a space" "$(hex h9)" "$(hex "$token ")"
refused "wildcards in the id" "$(hex h10)" "$(hex "al+ce:b:$secret")"
refused "topic characters in the id" "$(hex h11)" "$(hex "a/#:b:$secret")"
refused "token as password only" "$(hex h12)" - "$(hex "$token")"
refused "no username at all" "$(hex h13)" -
pass "hostile usernames refused"

# Invalid UTF-8 and NUL in a client id are protocol errors. A token
# session's client id is its registered id, or that id, ':' and a suffix of
# the client's choosing.
refused "invalid UTF-8 client id" "c3" "$(hex "$token")"
refused "NUL in client id" "610062" "$(hex "$token")"
refused "a legal client id that is not alice's" "$(hex 'odd+#/id')" "$(hex "$token")"
got=$(python3 "$wire/connect_once.py" "$TOKEN_PORT" "$(hex 'alice:odd+#/id')" "$(hex "$token")")
expect_eq "$got" "0" "a valid token with an unusual but legal suffix"
pass "malformed client ids refused"

out=$(publish_with_token ./alice_token "still serving") || fail "broker stopped serving: $out"
! grep -qF "$secret" "$BROKER_LOG" || fail "the secret reached the broker log"
pass "the broker keeps serving and never logs the secret"
