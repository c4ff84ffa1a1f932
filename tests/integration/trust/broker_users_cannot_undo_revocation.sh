#!/bin/bash
# A process running as mosquitto can read the registry and nothing more: it
# cannot resurrect a deleted token, and cannot block keytool.
source "$TESTLIB"
source "$BROKER_LIB"
source "$(dirname "$0")/trust_lib.sh"
require_broker
keytool gen carol --output ./carol >/dev/null
start_broker

out=$(publish_with_token ./carol_token "$PAYLOAD") || fail "carol refused before del: $out"
expect_eq "$(keytool del carol)" "deleted" "keytool del"
expect_registry_read_only_for mosquitto
pass "mosquitto can write nothing in the registry"

hold_every_lock mosquitto
keytool_within 5 gen erin --output ./erin
pass "keytool writes while mosquitto holds every lock it can take"

out=$(publish_with_token ./carol_token "$PAYLOAD") && fail "deleted token accepted"
expect_refused "$out" "deleted token"
out=$(publish_with_token ./erin_token "$PAYLOAD") || fail "new client refused: $out"
pass "the deleted token stays refused; the new one is admitted"
