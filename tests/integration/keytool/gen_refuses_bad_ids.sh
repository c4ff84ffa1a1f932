# Bad client ids are refused with a clear message before anything is written.
source "$TESTLIB"

long65=$(printf 'a%.0s' $(seq 65))
for id in "a/b" "a+b" "a#b" "a b" ".hidden" "-dash" "a..b" "" "$long65" "a:b" $'a\tb' "é" "../x" "_x"; do
    if keytool gen -- "$id" >/dev/null 2>err; then fail "id [$id] accepted"; fi
    expect_contains "$(cat err)" "keytool: client id " "message for [$id]"
    expect_eq "$(cat err | wc -l)" "1" "one line for [$id]"
done
[ ! -e "$KEYAUTH_REGISTRY" ] || fail "a refused id created the registry"
[ -z "$(ls | grep -v '^err$')" ] || fail "a refused id wrote files: $(ls)"

keytool init >/dev/null
long64=$(printf 'b%.0s' $(seq 64))
n=0
for id in "$long64" "a" "9" "my.app_01@site-x" "A-Z"; do
    n=$((n + 1))
    keytool gen "$id" --output "./ok-$n" >/dev/null 2>err || fail "valid id [$id] refused: $(cat err)"
done
expect_eq "$(keytool del "$long65" 2>&1)" "keytool: client id is longer than 64 characters" "del of a bad id"
pass "bad ids refused, good ones accepted"
