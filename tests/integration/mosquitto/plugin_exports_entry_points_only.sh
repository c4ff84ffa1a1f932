# The plugin exports Mosquitto's three entry points and nothing else, so no
# symbol of the core, OpenSSL glue or libstdc++ can clash inside the broker.
source "$TESTLIB"
command -v nm >/dev/null || { echo "skip: nm is not installed"; exit 77; }
exported=$(nm -D --defined-only "$PLUGIN" | awk '{print $3}' | sort | tr '\n' ' ')
expect_eq "$exported" "mosquitto_plugin_cleanup mosquitto_plugin_init mosquitto_plugin_version " \
    "exported symbols"
expect_eq "$(basename "$PLUGIN")" "mosquitto_keyauth.so" "file name"
pass "only the entry points are exported"
