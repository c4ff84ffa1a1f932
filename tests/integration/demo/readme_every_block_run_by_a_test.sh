# Every README block marked <!-- readme-test: NAME --> is run by a test
# (tests/package/run.sh or a test here names it), is not empty, and
# its name is marked once; every block a test names is in the README.
here=$(cd "$(dirname "$0")" && pwd)
source "$TESTLIB"
tests=$(cd "$here/../.." && pwd)
marked=$(sed -n 's/^<!-- readme-test: \(.*\) -->$/\1/p' "$KEYAUTH_README")
[ -n "$marked" ] || fail "no marked block in $KEYAUTH_README"
dup=$(sort <<<"$marked" | uniq -d)
[ -z "$dup" ] || fail "blocks marked twice: $dup"
for name in $marked; do
    [ -n "$(readme_block "$name")" ] || fail "marked block $name is empty (its lines must follow the marker, indented four spaces)"
    grep -Eq "readme_(run|start|block) $name( |\$|\))" "$tests/package/run.sh" "$here"/*.sh ||
        fail "README block $name is run by no test"
done
for name in $(grep -ohE "readme_(run|start|block) [a-z0-9-]+" "$tests/package/run.sh" "$here"/*.sh |
    awk '{print $2}' | sort -u); do
    grep -qx "$name" <<<"$marked" || fail "a test runs README block $name, which the README does not mark"
done
pass "every marked README block ($(wc -w <<<"$marked")) is run by a test, and every block run is marked"
