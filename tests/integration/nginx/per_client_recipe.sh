# conf-examples/nginx/keyauth-per-client.conf as written (only ports,
# registry and the rate changed): per-client path rights through
# `map $keyauth_client_id`, and per-client rate limits (the module judges the
# token when limit_req asks for the variable, before the access phase) that
# no request escapes, a bad token included.
source "$(dirname "$0")/nginx_lib.sh"

init_registry
keytool gen myapp01 >/dev/null
keytool gen other01 >/dev/null
keytool gen third01 >/dev/null
UP=$(free_port)
PORT=$(free_port)
recipe=$(sed -e "s|listen 127.0.0.1:5657;|listen 127.0.0.1:$PORT;|" \
             -e "s|/var/lib/keyauth|$KEYAUTH_REGISTRY|" \
             -e "s|127.0.0.1:15654|127.0.0.1:$UP|" \
             -e "s|rate=20r/s|rate=1r/m|; s|burst=40|burst=8|" \
             "$NGINX_TESTS/../../../conf-examples/nginx/keyauth-per-client.conf")
start_nginx "$(upstream_server "$UP") $recipe"

as() {  # as CLIENT PATH: "STATUS BODY"
    local header=()
    [ "$1" != nobody ] && header=(-H "Authorization: Bearer $(cat "$1_token")")
    curl -s --path-as-is -w ' %{http_code}' "${header[@]}" "http://127.0.0.1:$PORT$2" | tr -d '\n'
}

# Path rights: every client may query, only myapp01 may write.
expect_eq "$(as myapp01 /db/query?q=1)" "client=myapp01 200" "myapp01 queries"
expect_eq "$(as myapp01 /db/write/EXAMPLE)" "client=myapp01 200" "myapp01 writes"
expect_contains "$(as other01 /db/write/EXAMPLE)" " 403" "other01 may not write"
# Raw URI variants of an allowed path are refused, not let through.
expect_contains "$(as myapp01 /db/%77rite/EXAMPLE)" " 403" "encoded path"
expect_contains "$(as myapp01 /db/../db/write/EXAMPLE)" " 403" "dotted path"
expect_contains "$(as nobody /db/query)" '{"success":false,"reason":"missing token"} 401' "no token"

# Rate limits (1 r/min, burst 8 here). The requests above spent part of the
# budget; a flood of forged tokens must meet 429, not an unlimited empty key.
forged="myapp01:b:$(printf '0%.0s' $(seq 64))"
statuses=$(for _ in $(seq 12); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $forged" "http://127.0.0.1:$PORT/db/query"
done | sort | uniq -c | awk '{print $2 "x" $1}' | paste -sd' ')
expect_contains "$statuses" "429x" "forged tokens limited"
# The limit is per client, not per address: the forged flood spent this
# address's budget, and a client with a budget of its own is still served.
expect_eq "$(as third01 /db/query?q=1)" "client=third01 200" "another client, same address"
# ... and so is a valid client.
statuses=$(for _ in $(seq 12); do as myapp01 /db/query | awk '{print $NF}'; echo; done | sort | uniq -c | awk '{print $2 "x" $1}' | paste -sd' ')
expect_contains "$statuses" "429x" "valid client limited"
pass "per-client path rights and rate limits of the conf example"
