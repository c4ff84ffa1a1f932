# keytool list writes a long listing in blocks as it walks the registry
# (no whole registry in memory): 3 000 clients, several 64 KiB blocks of
# output, every client once, in id order, the table's id column as wide as
# its widest id (found by a first walk), the same through --json and for a
# member of the servers' group (both list through lookup.idx). Then the
# owner's peak memory does not grow with the registry (issue 19).
source "$TESTLIB"
keytool init --group www-data >/dev/null
wide=a-rather-long-client-id-to-widen-the-column
keytool gen "$wide" >/dev/null 2>&1
"$FILL_REGISTRY" "$KEYAUTH_REGISTRY" "$wide" c 3000 >/dev/null || fail "fill"

table=$(keytool list)
expect_eq "$(echo "$table" | wc -l)" "3004" "lines: 3 000 rows, 3 rules and a header"
[ "$(printf '%s' "$table" | wc -c)" -gt $((4 * 65536)) ] || fail "the table is not several blocks long"
ids=$(echo "$table" | sed -n '4,3003p' | awk -F'│' '{gsub(/ /, "", $3); print $3}')
expect_eq "$(echo "$ids" | sort -u | wc -l)" "3000" "every client once"
expect_eq "$ids" "$(echo "$ids" | LC_ALL=C sort)" "in id order"
expect_eq "$(echo "$table" | awk -F'│' 'NR == 4 {print length($3)}')" "$((${#wide} + 2))" \
    "the id column fits the widest id"
numbers=$(echo "$table" | sed -n '4,3003p' | awk -F'│' '{gsub(/ /, "", $2); print $2}')
expect_eq "$numbers" "$(seq 1 3000)" "row numbers"
pass "a 3 000-client table in blocks: every client once, in order, widest id fits"

keytool list --json >list.json || fail "list --json"
python3 - list.json <<'PY' || fail "json"
import json, sys
clients = json.load(open(sys.argv[1]))
ids = [c["id"] for c in clients]
assert len(ids) == 3000 and len(set(ids)) == 3000, len(ids)
assert ids == sorted(ids), "not in id order"
PY
pass "--json: 3 000 clients, valid JSON, in id order"

as_group=$(setpriv --reuid=www-data --regid=www-data --clear-groups "$KEYTOOL" list 2>&1) ||
    fail "www-data's list: $as_group"
expect_eq "$as_group" "$table" "the group's listing (through lookup.idx) is the owner's"
pass "a member of the group lists the same"

# Peak resident set, in kB, of `keytool list ARGS > /dev/null`.
list_peak_kb() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$KEYTOOL" list "$@" ||
        fail "list $*"
}
data_kb() { echo $(($(stat -c %s "$KEYAUTH_REGISTRY/data.mdb") / 1024)); }

# Under AddressSanitizer a process keeps what it frees (the quarantine, up
# to 256 MB), so its peak says nothing of the walk: the plain build's run
# measures it.
# Not grep -q: it would stop reading and ldd, still writing, would die of
# SIGPIPE, failing the pipeline (pipefail) and running the check under ASan.
if ldd "$KEYTOOL" | grep libasan >/dev/null; then
    echo "ok - peak memory # SKIP keytool is built with AddressSanitizer"
    exit 0
fi

# A walk that held every record (lookup.idx's, before its ranges) or read
# LMDB and kept data.mdb's pages would add about what data.mdb grows by
# (~400 bytes a client); one range of the walk at a time adds little. An
# eighth: a range's records held in a vector grown by doubling added 7-9 MB
# whenever a range came out one record past 32 768 (CI, 1 run in 6).
"$FILL_REGISTRY" "$KEYAUTH_REGISTRY" "$wide" c 25000 >/dev/null || fail "fill 25 000"
small_file=$(data_kb)
small_list=$(list_peak_kb)
small_json=$(list_peak_kb --json)
"$FILL_REGISTRY" "$KEYAUTH_REGISTRY" "$wide" c 100000 >/dev/null || fail "fill 100 000"
file_growth=$(($(data_kb) - small_file))
list_growth=$(($(list_peak_kb) - small_list))
json_growth=$(($(list_peak_kb --json) - small_json))
[ "$list_growth" -lt $((file_growth / 8)) ] ||
    fail "list's peak grew by $list_growth kB from 25 000 to 100 000 clients (data.mdb: $file_growth kB)"
[ "$json_growth" -lt $((file_growth / 8)) ] ||
    fail "list --json's peak grew by $json_growth kB from 25 000 to 100 000 clients (data.mdb: $file_growth kB)"
pass "peak memory flat from 25 000 to 100 000 clients (list +$list_growth kB, --json +$json_growth kB, data.mdb +$file_growth kB)"
