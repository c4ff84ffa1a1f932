# Review 4, M-1 and L-1: the broker refuses to start on a registry a local
# user made first in a sticky directory others may write (/tmp: here a copy
# of one in $WORK), on one its own user (mosquitto) owns, and on one another
# server's user (www-data) owns: each could put its own CA and clients in
# it. Root's registry in the same sticky directory is served as ever.
source "$TESTLIB"
source "$BROKER_LIB"
require_broker
init_registry  # the TLS listener's certificate


check() {  # WHAT EXPECTED-LOG-TEXT REGISTRY
    local log
    log=$(REGISTRY_OPTION="plugin_opt_registry $3" run_broker_expecting_refusal)
    expect_contains "$log" "keyauth: cannot open the registry: $2" "$1"
    pass "$1: broker refused to start"
}

# Repro 2: nobody's own registry, its own client mallory.
make_nobodys_registry
shared=$SHARED
check "nobody's registry in a sticky directory" \
    "registry $shared/theirs is owned by nobody (uid $(id -u nobody)), who made its path in $shared" \
    "$shared/theirs"

# L-1: the broker's own user's registry, and the NGINX workers' user's.
for user in mosquitto www-data; do
    keytool --registry "$WORK/$user-owned" init >/dev/null
    chown -R "$user" "$WORK/$user-owned"
    readable_by_all "$WORK/$user-owned"
done
check "a registry mosquitto owns" \
    "registry $WORK/mosquitto-owned is owned by mosquitto (uid $(id -u mosquitto)), the user this server runs as, who could then write it" \
    "$WORK/mosquitto-owned"
check "a registry www-data owns" \
    "registry $WORK/www-data-owned is owned by www-data (uid $(id -u www-data)), a server's user, who could then write it" \
    "$WORK/www-data-owned"

# Root's registry in the same sticky directory: served.
keytool --registry "$shared/roots" init --group mosquitto >/dev/null
keytool --registry "$shared/roots" gen alice --output ./alice >/dev/null
REGISTRY_OPTION="plugin_opt_registry $shared/roots" start_broker
out=$(publish_with_token ./alice_token "$PAYLOAD") || fail "alice refused: $out"
pass "a registry root made in a sticky directory is served"
