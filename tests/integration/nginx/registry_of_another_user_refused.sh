#!/bin/bash
# Review 4, M-1 and L-1: nginx -t refuses a registry a local user made
# first in a sticky directory others may write (/tmp: here a copy of one in
# $WORK), and one owned by a server's user (mosquitto's, www-data's): each
# could put its own CA and clients in it. A root-owned registry in the same
# sticky directory is served as ever.
source "$(dirname "$0")/nginx_lib.sh"

PORT=$(free_port)

# refused WHAT MESSAGE REGISTRY: nginx -t fails on the registry, saying why.
refused() {
    expect_nginx_t_fails "$1" "$2" \
        "server { listen 127.0.0.1:$PORT; keyauth_registry $3; keyauth on; }"
}

# Repro 2: nobody's own registry, its own client mallory.
make_nobodys_registry
shared=$SHARED
refused "nobody's registry in a sticky directory" \
    "registry $shared/theirs is owned by nobody (uid $(id -u nobody)), who made its path in $shared" \
    "$shared/theirs"
pass "nginx -t refuses a registry nobody made in a directory anyone may write"

# A link root made to it does not make it root's.
ln -s "$shared/theirs" "$WORK/link"
refused "a link to nobody's registry" "is owned by nobody" "$WORK/link"
pass "nginx -t refuses it through a link root made"

# L-1: a registry the broker's user owns (outside any sticky directory).
keytool --registry "$WORK/brokers" init >/dev/null
chown -R mosquitto "$WORK/brokers"
readable_by_all "$WORK/brokers"
refused "a registry mosquitto owns" \
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
