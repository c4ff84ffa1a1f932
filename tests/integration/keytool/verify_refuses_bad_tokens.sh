# keytool verify says why a token is refused, and exits 1.
source "$TESTLIB"
keytool init >/dev/null

keytool gen alice >/dev/null 2>&1
keytool gen bob >/dev/null 2>&1
token=$(cat alice_token)
secret=${token#alice:b:}
flip() { local s=$1 c=${1:$2:1}; local r=0; [ "$c" == 0 ] && r=1; echo "${s:0:$2}$r${s:$(($2 + 1))}"; }

check() {  # check TOKEN EXPECTED
    local out
    if out=$(keytool verify "$1"); then fail "accepted: $3"; fi
    expect_eq "$out" "invalid: $2" "$3"
}
check "alice:b:$(flip "$secret" 0)" "credential does not match (client alice)" "first char differs"
check "alice:b:$(flip "$secret" 63)" "credential does not match (client alice)" "last char differs"
check "alice:b:${secret}0" "malformed credential" "65 hex digits"
check "alice:b:${secret:0:63}" "malformed credential" "63 hex digits"
check "alice:b:${secret^^}" "malformed credential" "upper-case hex"
check "bob:b:$secret" "credential does not match (client bob)" "alice's secret under bob's id"
check "carol:b:$secret" "unknown client (client carol)" "unknown id"
check "alice:$secret" "malformed credential" "no :b:"
check "" "no credential" "empty"
check "Alice:b:$secret" "unknown client (client Alice)" "ids are case-sensitive"
pass "verify refuses every bad token with the reason"

# Validity edges: expired one second ago, valid for one more second, not yet valid.
"$SET_VALIDITY" "$KEYAUTH_REGISTRY" alice -100 -1
check "$token" "expired (client alice)" "expired a second ago"
"$SET_VALIDITY" "$KEYAUTH_REGISTRY" alice +5 +100
check "$token" "not yet valid (client alice)" "valid in five seconds"
"$SET_VALIDITY" "$KEYAUTH_REGISTRY" alice -100 +100
keytool verify "$token" >/dev/null || fail "valid again"
pass "expired and not-yet-valid tokens refused"
