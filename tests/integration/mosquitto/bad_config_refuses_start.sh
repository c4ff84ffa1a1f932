# A plugin option the plugin does not know, a bad value, a missing or
# unusable registry: the broker refuses to start, and says why in one
# "keyauth:" line.
source "$TESTLIB"
source "$BROKER_LIB"

check() {  # WHAT EXPECTED-LOG-TEXT CONFIG-LINE...
    local what=$1 expected=$2
    shift 2
    local log
    log=$(run_broker_expecting_refusal "$@")
    expect_contains "$log" "keyauth: $expected" "$what"
    [ "$(grep -c "keyauth:" <<<"$log")" -eq 1 ] || fail "$what: more than one keyauth line"
    pass "$what: broker refused to start"
}
check "unknown option" "unknown option plugin_opt_registery" "plugin_opt_registery /tmp"
check "bad boolean" "plugin_opt_token_auth must be true or false, not 'yes'" \
    "plugin_opt_token_auth yes"
check "bad grace" "plugin_opt_registry_error_grace must be seconds (60) or a duration (90s, 5m), not 'soon'" \
    "plugin_opt_registry_error_grace soon"
check "repeated option" "plugin_opt_clientid_match is given twice" \
    "plugin_opt_clientid_match true" "plugin_opt_clientid_match false"
REGISTRY_OPTION="" check "no registry option" "plugin_opt_registry DIR is required"
REGISTRY_OPTION="plugin_opt_registry $WORK/nowhere" check "missing registry" \
    "cannot open the registry: registry $WORK/nowhere"

# A registry made without --group: the broker no longer runs as root when it
# opens it.
cp -a "$KEYAUTH_REGISTRY" private
chgrp -R root private
chmod 700 private
REGISTRY_OPTION="plugin_opt_registry $WORK/private" check "registry without group" \
    "cannot open the registry"
