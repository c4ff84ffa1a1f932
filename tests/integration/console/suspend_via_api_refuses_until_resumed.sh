#!/bin/bash
# POST /api/v1/clients/{id}/suspend and .../resume (issue 17): a suspended
# client's token is refused as suspended (keytool verify) until resumed, its
# credentials kept; GET /api/v1/clients?state= lists one state.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login

verdict() { keytool verify "$1" || true; }

create_client sensor-1
create_client sensor-2
token=$(cat sensor-1_token)

answer=$(api POST /api/v1/clients/sensor-1/suspend)
expect_eq "${answer%% *}" 200 "suspend: ${answer#* }"
expect_contains "$answer" '"state":"suspended"' "suspend's answer"
expect_contains "$answer" '"changed":true' "suspend's answer"
expect_eq "$(verdict "$token")" "invalid: suspended (client sensor-1)" "the suspended client's token"
expect_contains "$(api POST /api/v1/clients/sensor-1/suspend)" '"changed":false' "suspend again"
listing=$(api GET '/api/v1/clients?state=suspended')
expect_contains "$listing" '"total":1' "the suspended clients"
expect_contains "$listing" '"id":"sensor-1"' "the suspended clients"
listing=$(api GET '/api/v1/clients?state=active')
expect_contains "$listing" '"total":1' "the active clients"
expect_contains "$listing" '"id":"sensor-2"' "the active clients"
expect_contains "$(api GET '/api/v1/clients?state=not%20yet%20valid')" '"total":0' "none not yet valid"
pass "suspend: the token refused as suspended; the list filters by state"

answer=$(api POST /api/v1/clients/sensor-1/resume)
expect_eq "${answer%% *}" 200 "resume: ${answer#* }"
expect_contains "$answer" '"state":"active"' "resume's answer"
expect_contains "$answer" '"changed":true' "resume's answer"
expect_contains "$(verdict "$token")" "valid: client sensor-1" "the resumed client's token"
expect_contains "$(api POST /api/v1/clients/sensor-1/resume)" '"changed":false' "resume again"
pass "resume: the token valid again"

expect_no_secret_in_console_log sensor-1_token sensor-2_token
pass "suspend and resume through the console API"
