#!/bin/bash
# Review 4, M-1 and L-1: nginx -t refuses a registry a local user made
# first in a sticky directory others may write (/tmp: here a copy of one in
# $WORK), and one owned by a server's user (mosquitto's, www-data's): each
# could put its own CA and clients in it. A root-owned registry in the same
# sticky directory is served as ever.
source "$(dirname "$0")/nginx_lib.sh"

PORT=$(free_port)
shared="$WORK/shared"
mkdir "$shared" && chmod 1777 "$shared"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# Readable by every user (so by www-data), as the one who made it can make it.
readable_by_all() { "$@" chmod 0755 "$dir" && "$@" chmod 0644 "$dir/lookup.idx" "$dir/commit.seq"; }

# expect_nginx_t_fails WHAT MESSAGE REGISTRY
expect_nginx_t_fails() {
    local out
    if out=$(nginx_test "server { listen 127.0.0.1:$PORT; keyauth_registry $3; keyauth on; }"); then
        fail "$1: nginx -t accepted it: $out"
    fi
    expect_contains "$out" "$2" "$1"
}

# Repro 2: nobody's own registry, its own client mallory.
as_nobody "$KEYTOOL" --registry "$shared/theirs" init >/dev/null
as_nobody "$KEYTOOL" --registry "$shared/theirs" gen mallory --output "$shared/mallory" >/dev/null
dir="$shared/theirs" readable_by_all as_nobody
expect_nginx_t_fails "nobody's registry in a sticky directory" \
    "registry $shared/theirs is owned by nobody (uid $(id -u nobody)), who made its path in $shared" \
    "$shared/theirs"
pass "nginx -t refuses a registry nobody made in a directory anyone may write"

# A link root made to it does not make it root's.
ln -s "$shared/theirs" "$WORK/link"
expect_nginx_t_fails "a link to nobody's registry" "is owned by nobody" "$WORK/link"
pass "nginx -t refuses it through a link root made"

# L-1: a registry the broker's user owns (outside any sticky directory).
keytool --registry "$WORK/brokers" init >/dev/null
chown -R mosquitto "$WORK/brokers"
dir="$WORK/brokers" readable_by_all
expect_nginx_t_fails "a registry mosquitto owns" \
    "registry $WORK/brokers is owned by mosquitto (uid $(id -u mosquitto)), a server's user, who could then write it" \
    "$WORK/brokers"
pass "nginx -t refuses a registry the broker's user owns"

# Root's registry in the same sticky directory: served.
keytool --registry "$shared/roots" init --group www-data >/dev/null
keytool --registry "$shared/roots" gen alice --output ./alice >/dev/null
KEYAUTH_REGISTRY="$shared/roots"
start_protected_proxy
expect_eq "$(curl_status_body "$URL" -H "Authorization: Bearer $(cat ./alice_token)")" \
    "200 client=alice" "alice through root's registry in $shared"
pass "a registry root made in a sticky directory is served"
