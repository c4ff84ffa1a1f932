#!/bin/bash
# Cutting open requests goes through nginx's own request teardown, which
# libasan cannot see (only the module is instrumented): the WebSocket, gRPC
# and SSE/long-poll cut tests again, every nginx process under valgrind, and
# not one invalid read or write. (Without the reference the module holds
# around the cut, the request is freed under nginx's feet: valgrind reports
# it here.)
source "$(dirname "$0")/nginx_lib.sh"

mkdir -p "$WORK/valgrind"
chmod 1777 "$WORK/valgrind"
cat >"$WORK/nginx-under-valgrind" <<SH
#!/bin/bash
exec valgrind -q --trace-children=yes --log-file=$WORK/valgrind/nginx.%p /usr/sbin/nginx "\$@"
SH
chmod 755 "$WORK/nginx-under-valgrind"

for test in websocket_cut_on_delete grpc_stream_cut_on_revocation sse_and_long_poll_cut; do
    out=$(NGINX_BIN="$WORK/nginx-under-valgrind" CUT_LIMIT=3 FLOW_MIN=2 \
          bash "$NGINX_TESTS/$test.sh" 2>&1) || fail "$test under valgrind: $out"
done
pass "WebSocket, gRPC, SSE and long-poll cuts with nginx under valgrind"

reports=$(cat "$WORK"/valgrind/nginx.* | grep -v 'could not unlink /tmp/vgdb-pipe' || true)
[ -z "$reports" ] || fail "valgrind reports from nginx: $reports"
[ "$(ls "$WORK"/valgrind | wc -l)" -ge 6 ] || fail "valgrind logs missing: did nginx run under it?"
pass "valgrind: no invalid access, in workers or master"
