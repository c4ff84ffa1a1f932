# A del that returns while a host rebuilds its registry (15 000 clients: a
# read of seconds) is refused by that host's nginx at once, and never admitted
# again when the rebuilt registry is swapped in: the registry served follows
# etcd on its own thread while the snapshot is read (every change after a
# SIGUSR1, deletes only after a compaction, whose history it cannot replay),
# and the new registry applies what changed during the read before the swap.
# (Before: after a compaction nothing followed, a deleted client was admitted
# until the swap, seconds; after SIGUSR1, between pages of 250 only.)
source "$FLEET_LIB"
# Pages of 250: a rebuild reads for seconds, whatever etcd's speed (in
# pages of 10 000 it was over in well under a second, before a del).
export KEYAUTH_ETCD_READ_PAGE=250
CLIENTS=${CLIENTS:-15000}
LIMIT_MS=${LIMIT_MS:-100}
start_etcd_cluster
admin init >/dev/null
admin_gen_bulk b "$CLIENTS"
start_host 1
start_nginx 1
host_has_all() {
    [ "$(keytool --registry "$(host_dir 1)" status | awk '/^clients:/ {print $2}')" == "$((CLIENTS + 1))" ]
}
wait_until 60 "host 1's first load of $((CLIENTS + 1)) clients" host_has_all
in_log() { grep -c "$1" "$WORK/sync1.log" || true; }
# probe START-PATTERN STARTS ENDS ID...: STARTS and ENDS, the log's counts of
# START-PATTERN and of the swap before the rebuild was set off (counted
# after, a rebuild already over would be waited for in vain).
probe() {
    python3 "$(dirname "$FLEET_LIB")/del_probe.py" "${NGINX_PORT[1]}" "$WORK/tokens" \
        "$WORK/sync1.log" "$1" "$2" "rebuilt the registry" "$3" "$LIMIT_MS" \
        -- "$KEYTOOL" --registry "$ADMIN" --etcd "$ETCD" -- "${@:4}"
}

# A rebuild after a compaction: host 1 stopped while etcd moves on and compacts.
stop_host 1
admin del b0000 >/dev/null
admin_gen carol  # two revisions: the one host 1 watches from is compacted
etcdctl --endpoints "$ETCD" compact "$(etcd_revision)" >/dev/null
starts=$(in_log "compacted past revision")
ends=$(in_log "rebuilt the registry")
start_host 1
out=$(probe "compacted past revision" "$starts" "$ends" b0001 b0002 b0003 b0004 b0005) ||
    fail "after a compaction: $out"
pass "dels during a rebuild after a compaction: $out"

# A rebuild asked for (SIGUSR1): the same store, followed whole.
starts=$(in_log "rebuild requested")
ends=$(in_log "rebuilt the registry")
kill -USR1 "${SYNC_PID[1]}"
out=$(probe "rebuild requested" "$starts" "$ends" b0006 b0007 b0008 b0009 b0010) ||
    fail "after SIGUSR1: $out"
pass "dels during a SIGUSR1 rebuild: $out"

# Nothing deleted came back, and the host equals etcd.
for n in 0 1 2 3 4 5 6 7 8 9 10; do
    expect_eq "$(http_status 1 "$WORK/tokens/$(printf 'b%04d' "$n")_token")" 401 "b$n after the rebuilds"
done
expect_eq "$(http_status 1 "$WORK/tokens/b0011_token")" 200 "b0011, never deleted"
wait_until 10 "host 1 equal to etcd" host_digest_equal 1
pass "the deleted clients refused, the others admitted, host 1 equal to etcd by digest"

# During a rebuild, a del and then every client deleted at once reach the
# host together (it is stopped meanwhile): the del is applied to the registry
# served, the mass delete is left to the rebuild, which holds.
requested() { [ "$(grep -c 'rebuild requested' "$WORK/sync1.log")" -ge 2 ]; }
kill -USR1 "${SYNC_PID[1]}"
wait_until 10 "a second rebuild under way" requested
sleep 0.3  # into the snapshot's read (seconds at this size)
kill -STOP "${SYNC_PID[1]}"
admin del b0012 >/dev/null
etcdctl --endpoints "$ETCD" del --prefix /keyauth/clients/ >/dev/null
sleep 0.5  # both sent to the stopped host's watch before it reads again
kill -CONT "${SYNC_PID[1]}"
wait_until 60 "host 1 held" grep -q "HELD: " "$WORK/sync1.log"
expect_eq "$(http_status 1 "$WORK/tokens/b0012_token")" 401 "b0012, deleted just before the mass delete"
expect_eq "$(http_status 1 "$WORK/tokens/b0013_token")" 200 "b0013, deleted by the mass delete only"
pass "a del joined with a mass delete during a rebuild: the del applied, the mass delete held"
