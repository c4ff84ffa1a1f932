# An etcd member (or anyone on the path of an http:// endpoint) answering
# without end: keyauth-sync cuts the answer where no legitimate one ends
# (a page of keys, a few MiB for the rest), says so naming the endpoint and
# the limit, and its memory stays bounded while it tries again (without the
# cap it grew at ~0.5 GB/s until the OOM killer).
source "$FLEET_LIB"
port=$(free_port)
python3 "$(dirname "$FLEET_LIB")/endless_etcd.py" "$port" &
STUB=$!
at_exit "kill $STUB 2>/dev/null || true"
wait_for_port "$port"

# A page's request gives up after 6 x 2 s, saying its answer was cut, and
# is tried again.
# Under AddressSanitizer freed blocks are held in its quarantine (256 MB):
# none, so that the peak is what keyauth-sync itself holds.
KEYAUTH_ETCD_TIMEOUT_MS=2000 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
    "$KEYAUTH_SYNC" --etcd "http://127.0.0.1:$port" --registry "$WORK/reg" --once >"$WORK/once.log" 2>&1 &
ONCE=$!
at_exit "kill -KILL $ONCE 2>/dev/null || true"
# VmHWM: the peak resident set, in kB. 100 MB is far above a capped page
# (8 MiB + 10 000 keys x 1 KiB) and far below what seconds of the endless answer fill.
peak() { awk '/^VmHWM:/ { print $2 }' "/proc/$ONCE/status" 2>/dev/null || echo 0; }
cut_said() { grep -q "etcd http://127.0.0.1:$port: answer cut at [0-9]* MiB" "$WORK/once.log"; }
for _ in $(seq 300); do
    cut_said && break
    [ "$(peak)" -lt 102400 ] || break
    sleep 0.1
done
sleep 3  # the retries that follow stay within the bound too
kill -0 "$ONCE" 2>/dev/null || fail "keyauth-sync --once ended: $(cat "$WORK/once.log")"
hwm=$(peak)
kill -KILL "$ONCE"
[ "$hwm" -lt 102400 ] || fail "keyauth-sync's peak RSS ${hwm} kB, over 100 MB"
cut_said || fail "no answer cut said: $(head -c 2000 "$WORK/once.log")"
pass "endless answers cut: $(grep -m1 -o "etcd http://127.0.0.1:$port: answer cut at[^)]*" "$WORK/once.log"); peak RSS ${hwm} kB"
