# keytool list prints the seed's box-drawing table, and JSON on request.
source "$TESTLIB"
keytool init >/dev/null

keytool gen myid2 >/dev/null 2>&1
keytool gen myid3 >/dev/null 2>&1
seed_time() {  # seed_time ID FIELD: the client's FIELD as the seed prints times
    date -u -d "@$(keytool list --json | grep -o "\"id\":\"$1\"[^}]*\"$2\":[0-9]*" | grep -o '[0-9]*$')" \
        '+%Y-%m-%d %H:%M:%S +0000 UTC'
}
from2=$(seed_time myid2 not_before)
until2=$(seed_time myid2 not_after)

out=$(keytool list)
expect_eq "$(echo "$out" | sed -n 1p)" "┌────────┬──────────────────────┬───────────────────────────────┬───────────────────────────────┐" "top rule"
expect_eq "$(echo "$out" | sed -n 2p)" "│ ROWNUM │ ID                   │ VALID FROM                    │ EXPIRE                        │" "header"
expect_eq "$(echo "$out" | sed -n 3p)" "├────────┼──────────────────────┼───────────────────────────────┼───────────────────────────────┤" "middle rule"
expect_eq "$(echo "$out" | sed -n 4p)" "│      1 │ myid2                │ $from2 │ $until2 │" "row 1"
[[ "$(echo "$out" | sed -n 5p)" == "│      2 │ myid3                │ "* ]] || fail "row 2"
expect_eq "$(echo "$out" | sed -n 6p)" "└────────┴──────────────────────┴───────────────────────────────┴───────────────────────────────┘" "bottom rule"
expect_eq "$(echo "$out" | wc -l)" "6" "line count"

# A long id widens its column.
long=abcdefghijklmnopqrstuvwxyz0123456789
keytool gen "$long" >/dev/null 2>&1
row=$(keytool list | grep "$long")
expect_eq "$row" "│      1 │ $long │ $(seed_time "$long" not_before) │ $(seed_time "$long" not_after) │" "wide row"

json=$(keytool list --json)
expect_contains "$json" '"id":"myid2"' "json id"
expect_contains "$json" '"valid_from":"' "json valid_from"
expect_eq "$(echo "$json" | grep -c '"id"')" "3" "json count"
pass "list prints the seed's table"
