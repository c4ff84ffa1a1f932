#!/bin/bash
# Rotate, suspend and resume through the API (issue 17): a rotation hands the
# new keys out once and the old token keeps working for the grace; a
# suspension refuses the token until resumed; the list filters by state.
source "$(dirname "$0")/console_lib.sh"
keytool init >/dev/null
start_console
console_login

# token_of ANSWER_FILE ID: the token file in a generate or rotate answer.
token_of() {
    python3 - "$1" "$2" <<'PY'
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    if f["name"] == sys.argv[2] + "_token":
        print(f["contents"].strip())
PY
}
verdict() { keytool verify "$1" || true; }

create_client sensor-1
create_client sensor-2
old=$(cat sensor-1_token)
expect_contains "$(verdict "$old")" "valid: client sensor-1" "the first token"

answer=$(api POST /api/v1/clients/sensor-1/rotate -H 'Content-Type: application/json' \
    -d '{"grace":"1d","days":30}')
expect_eq "${answer%% *}" 201 "rotate sensor-1: ${answer#* }"
printf '%s' "${answer#* }" >"$WORK/rotated.json"
new=$(token_of "$WORK/rotated.json" sensor-1)
[[ "$new" =~ ^sensor-1:b:[0-9a-f]{64}$ ]] || fail "no new token in the rotation's answer"
[ "$new" != "$old" ] || fail "the rotation handed out the old token"
for field in '"files":' '"zip":' '_key.pem' 'PRIVATE KEY' '"previous_valid_until":' \
    '"state":"active"'; do
    expect_contains "${answer#* }" "$field" "the rotation's answer"
done
expect_contains "$(verdict "$new")" "valid: client sensor-1" "the new token"
expect_contains "$(verdict "$old")" "valid: client sensor-1" "the old token in its grace"
shown=$(api GET /api/v1/clients/sensor-1)
expect_eq "${shown%% *}" 200 "show sensor-1"
expect_not_contains "$shown" "$new" "show after the rotation (new token)"
expect_not_contains "$shown" '"files"' "show after the rotation"
expect_contains "$shown" '"previous_valid_until":' "show after the rotation"
pass "rotate with a grace: the new keys once, the old token valid for the grace"

# No grace (an empty body): the old token ends at once.
answer=$(api POST /api/v1/clients/sensor-2/rotate)
expect_eq "${answer%% *}" 201 "rotate sensor-2 without a body: ${answer#* }"
printf '%s' "${answer#* }" >"$WORK/rotated2.json"
expect_contains "$(verdict "$(cat sensor-2_token)")" "invalid:" "sensor-2's old token without a grace"
expect_contains "$(verdict "$(token_of "$WORK/rotated2.json" sensor-2)")" "valid: client sensor-2" \
    "sensor-2's new token"
# As a zip, as generate answers it.
status=$(curl -s -o "$WORK/rotated.zip" -w '%{http_code}' -b "$JAR" -H "X-CSRF-Token: $CSRF" \
    -X POST "$CONSOLE/api/v1/clients/sensor-2/rotate?format=zip")
expect_eq "$status" 201 "rotate as a zip"
(mkdir unzipped && cd unzipped && unzip -q "$WORK/rotated.zip")
expect_contains "$(verdict "$(cat unzipped/sensor-2_token)")" "valid: client sensor-2" "the zip's token"
pass "rotate without a grace ends the old token; ?format=zip answers the bundle"

answer=$(api POST /api/v1/clients/sensor-1/suspend)
expect_eq "${answer%% *}" 200 "suspend: ${answer#* }"
expect_contains "$answer" '"state":"suspended"' "suspend's answer"
expect_contains "$answer" '"changed":true' "suspend's answer"
expect_eq "$(verdict "$new")" "invalid: suspended (client sensor-1)" "the suspended client's token"
expect_contains "$(verdict "$old")" "invalid:" "the suspended client's token in grace"
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
expect_contains "$(verdict "$new")" "valid: client sensor-1" "the resumed client's token"
expect_contains "$(api POST /api/v1/clients/sensor-1/resume)" '"changed":false' "resume again"
pass "resume: the token valid again"

expect_400() {
    local answer=$1 needle=$2 what=$3
    expect_eq "${answer%% *}" 400 "$what"
    expect_contains "${answer#* }" "$needle" "$what"
}
rotate() { api POST /api/v1/clients/sensor-1/rotate -H 'Content-Type: application/json' -d "$1"; }
expect_400 "$(rotate '{"grace":"7 days"}')" "grace: a duration" "a grace in words"
expect_400 "$(rotate '{"grace":7}')" "grace must be a duration" "a grace as a number"
expect_400 "$(rotate '{"grace":"400d"}')" "between 0 and 366 days" "a grace over a year"
expect_400 "$(rotate '{"force":true}')" "unexpected field" "force in a rotation"
expect_400 "$(api GET '/api/v1/clients?state=revoked')" "state must be" "an unknown state"
expect_eq "$(rotate '{"grace":"1d"}' | cut -d' ' -f1)" 201 "sensor-1 still rotates"
expect_eq "$(api POST /api/v1/clients/nobody/rotate | cut -d' ' -f1)" 404 "rotate nobody"
expect_eq "$(api POST /api/v1/clients/nobody/suspend | cut -d' ' -f1)" 404 "suspend nobody"
expect_eq "$(api POST /api/v1/clients/nobody/resume | cut -d' ' -f1)" 404 "resume nobody"
expect_eq "$(api POST /api/v1/clients/sensor-1/renew | cut -d' ' -f1)" 404 "an unknown action"
expect_eq "$(api GET /api/v1/clients/sensor-1/suspend | cut -d' ' -f1)" 405 "GET of an action"
expect_eq "$(api POST /api/v1/clients/sensor-1/rotate -H 'Content-Type: text/plain' -d '{}' |
    cut -d' ' -f1)" 415 "a rotation body not JSON"
status=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" -X POST "$CONSOLE/api/v1/clients/sensor-1/suspend")
expect_eq "$status" 403 "suspend without the CSRF token"
status=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" -X POST "$CONSOLE/api/v1/clients/sensor-1/rotate")
expect_eq "$status" 403 "rotate without the CSRF token"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X POST \
    "$CONSOLE/api/v1/clients/sensor-1/suspend")
expect_eq "$status" 401 "suspend without a session"
expect_contains "$(verdict "$(token_of "$WORK/rotated.json" sensor-1)")" "valid: client sensor-1" \
    "sensor-1 untouched by the refusals"
pass "refused: bad graces, unknown clients and actions, no CSRF token, no session"

expect_no_secret_in_console_log sensor-1_token sensor-2_token
pass "rotate, suspend and resume through the console API"
