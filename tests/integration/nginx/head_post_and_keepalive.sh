#!/bin/bash
# Refusals on a keep-alive connection: a HEAD gets headers only, a POST's body
# is read and dropped, and the next request on the same connection is served.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 --output ./myapp01 >/dev/null
start_protected_proxy
bad="Authorization: Bearer myapp01:b:$(printf '%064x' 7)"

out=$(curl -s -I "$URL" -H "$bad")
expect_contains "$out" "HTTP/1.1 401 Unauthorized" "HEAD: status"
expect_contains "$out" "Content-Length: ${#INVALID_TOKEN_BODY}" "HEAD: length"
expect_contains "$out" "$INVALID_TOKEN_CHALLENGE" "HEAD: challenge"
pass "HEAD with a bad token: 401 headers"

out=$(curl -s -v "$URL" -H "$bad" --data-urlencode "q=select 1" \
      --next "$URL" -H "Authorization: Bearer `cat ./myapp01_token`" 2>"$WORK/trace")
expect_eq "$out" "${INVALID_TOKEN_BODY}client=myapp01" "refused POST then GET"
expect_contains "$(cat "$WORK/trace")" "Re-using existing connection" "keep-alive after a refused POST"
pass "POST with a bad token: 401, connection kept for the next request"

out=$(curl -s "$URL" --data-urlencode "q=select 1" -H "Authorization: Bearer `cat ./myapp01_token`")
expect_eq "$out" "client=myapp01" "POST with a valid token"
pass "POST with a valid token reaches the upstream"

# Three pipelined requests on one raw connection: the HEAD answer must carry
# no body, and the refused POST's 1 MB body must be read and dropped, or the
# answers after them would be misread.
python3 - "$PORT" "$(cat ./myapp01_token)" <<'PY' || fail "pipelined HEAD, POST, GET"
import re, socket, sys
port, token = int(sys.argv[1]), sys.argv[2]
bad = "Bearer myapp01:b:" + "0" * 64
body = b"a" * 1000000
req = (f"HEAD /db/query HTTP/1.1\r\nHost: t\r\nAuthorization: {bad}\r\n\r\n"
       f"POST /db/query HTTP/1.1\r\nHost: t\r\nAuthorization: {bad}\r\n"
       f"Content-Length: {len(body)}\r\n\r\n").encode() + body + (
       f"GET /db/query HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
       "Connection: close\r\n\r\n").encode()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(req)
data = b""
while chunk := s.recv(65536):
    data += chunk
text = data.decode()
# the JSON bodies end without a newline: status lines follow them directly
statuses = re.findall(r"HTTP/1\.1 (\d+) ", text)
assert statuses == ["401", "401", "200"], statuses
first_end = text.index("\r\n\r\n") + 4
assert text[first_end:].startswith("HTTP/1.1 401"), "HEAD answer has a body"
assert '{"success":false,"reason":"invalid token"}' in text
assert text.endswith("client=myapp01\n"), text[-80:]
PY
pass "pipelined HEAD, POST of 1 MB, GET on one connection: 401, 401, 200"

expect_clean_error_log ./myapp01_token
