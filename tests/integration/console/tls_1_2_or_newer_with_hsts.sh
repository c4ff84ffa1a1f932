#!/bin/bash
# keytool serve --tls speaks TLS 1.2 and 1.3 only, and tells browsers to keep
# to HTTPS (Strict-Transport-Security) on every answer.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console --tls
port=${CONSOLE##*:}

handshake() {
    openssl s_client -connect "127.0.0.1:$port" -servername 127.0.0.1 \
        -CAfile "$KEYAUTH_REGISTRY/ca_cert.pem" "$@" </dev/null >"$WORK/s_client.out" 2>&1
}
# OpenSSL's default security level forbids TLS 1.0/1.1 in the client itself: allow it,
# so that the refusal is the server's.
handshake -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' && fail "a TLS 1.1 handshake succeeded: $(grep -m1 Protocol "$WORK/s_client.out")"
handshake -tls1 -cipher 'DEFAULT:@SECLEVEL=0' && fail "a TLS 1.0 handshake succeeded"
handshake -tls1_2 || fail "no TLS 1.2 handshake: $(tail -5 "$WORK/s_client.out")"
expect_contains "$(cat "$WORK/s_client.out")" "Verify return code: 0 (ok)" "TLS 1.2 handshake"
handshake -tls1_3 || fail "no TLS 1.3 handshake: $(tail -5 "$WORK/s_client.out")"

for url in "$CONSOLE/" "$CONSOLE/api/v1/clients"; do
    headers=$(curl -s -I --cacert "$KEYAUTH_REGISTRY/ca_cert.pem" "$url" | tr -d '\r')
    expect_contains "$headers" "Strict-Transport-Security: max-age=31536000" "HTTPS answer headers"
done

# Plain HTTP has no HSTS (a browser ignores it there, and it would promise what is not served).
stop_console_cleanly
start_console
expect_not_contains "$(curl -s -I "$CONSOLE/" | tr -d '\r')" "Strict-Transport-Security" "HTTP answer headers"
expect_no_secret_in_console_log
pass "TLS 1.2 or newer, with HSTS"
