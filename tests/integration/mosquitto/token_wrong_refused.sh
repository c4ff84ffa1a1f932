# A token whose secret is wrong, another client's secret under my id, a
# malformed token and a never-registered id are all refused, even with the
# real token as password: a password counts only under the registered id
# (token_client_id_belongs_to_its_client.sh has that form).
source "$TESTLIB"
source "$BROKER_LIB"
keytool gen myapp01 >/dev/null
keytool gen other >/dev/null
start_broker

token=$(cat ./myapp01_token)
secret=${token##*:}
declare -A wrong=(
    [wrong secret]="myapp01:b:$(tr '0-9a-f' '1-9a-f0' <<<"$secret")"
    [secret of another client]="myapp01:b:$(cut -d: -f3 ./other_token)"
    [uppercase hex]="myapp01:b:${secret^^}"
    [no separator]="myapp01$secret"
    [unregistered id]="ghost:b:$secret"
)
for case in "${!wrong[@]}"; do
    printf '%s\n' "${wrong[$case]}" >./wrong
    out=$(publish_with_token ./wrong "$PAYLOAD" --pw "$token") && fail "$case: accepted"
    expect_refused "$out" "$case"
    pass "$case refused"
done
expect_in_log "token of 'myapp01': credential does not match" "mismatch logged with the id"
expect_no_secret_in_log
