#!/bin/bash
# Review 3, M-2: a local user without the login secret (nobody) opens new
# connections to the console from the operator's own 127.0.0.1 as fast as
# two processes can, keeping the newest 300 of each open. A full address
# once cut its oldest connection still sending its request, so the flood
# cut the operator's own request before the server read it (main: 8 to 14
# of 30 cut). The operator's 20 requests (root, with the session) are
# answered, none cut: every local user is held to its own share of
# connections. Counted with a margin: the listen queue is still shared with
# the flood, so a request may wait a second for its turn, or time out.
source "$(dirname "$0")/console_lib.sh"
source "$(dirname "$0")/flood_lib.sh"
keytool init >/dev/null
start_console
console_login

start_nobodys_flood 127.0.0.1 "${CONSOLE##*:}" 40
operators_requests_beside_flood 20
echo "operator answered $ANSWERED/20 beside the flood, $CUT cut"
[ "$CUT" -le 1 ] || fail "$CUT of the operator's 20 requests were cut beside another user's connection flood"
[ "$ANSWERED" -ge 16 ] || fail "the operator was answered $ANSWERED/20 times beside another user's connection flood"
expect_no_secret_in_console_log
pass "a connection flood of another local user does not keep the operator out"
