// The Mosquitto plugin's plugin_opt_* settings, as mosquitto.conf gives them.
#include "unit_test.hpp"

#include <initializer_list>
#include <utility>
#include <vector>

#include "broker_api.hpp"
#include "options.hpp"

using keyauth::mqtt::Options;
using keyauth::mqtt::parse_options;

namespace {

// plugin_opt_KEY VALUE lines, as the broker hands them over.
keyauth::Result<Options> parse(std::initializer_list<std::pair<const char*, const char*>> lines) {
    std::vector<mosquitto_opt> options;
    for (const auto& [key, value] : lines)
        options.push_back({const_cast<char*>(key), const_cast<char*>(value)});
    return parse_options(options.data(), static_cast<int>(options.size()));
}

void expect_refused(const keyauth::Result<Options>& parsed, const char* message) {
    assert_false(parsed.ok());
    assert_string_equal(parsed.error().message.c_str(), message);
}

void the_registry_alone_takes_the_defaults(void**) {
    auto parsed = parse({{"registry", "/var/lib/keyauth"}});
    assert_true(parsed.ok());
    assert_string_equal(parsed->registry_dir.c_str(), "/var/lib/keyauth");
    assert_true(parsed->token_auth);
    assert_true(parsed->clientid_match);
    assert_int_equal(parsed->registry_error_grace, keyauth::kDefaultRegistryErrorGrace);
    assert_int_equal(parsed->sys_interval, 10);  // the broker's own default
}

void every_option_is_read(void**) {
    auto parsed = parse({{"registry", "/srv/reg"},
                         {"token_auth", "false"},
                         {"clientid_match", "false"},
                         {"registry_error_grace", "0"},
                         {"sys_interval", "1m"}});
    assert_true(parsed.ok());
    assert_int_equal(parsed->sys_interval, 60);
    assert_false(parsed->token_auth);
    assert_false(parsed->clientid_match);
    assert_int_equal(parsed->registry_error_grace, 0);
}

void the_grace_takes_seconds_or_a_duration(void**) {
    assert_int_equal(
        parse({{"registry", "/r"}, {"registry_error_grace", "90"}})->registry_error_grace, 90);
    assert_int_equal(
        parse({{"registry", "/r"}, {"registry_error_grace", "90s"}})->registry_error_grace, 90);
    assert_int_equal(
        parse({{"registry", "/r"}, {"registry_error_grace", "5m"}})->registry_error_grace, 300);
    expect_refused(parse({{"registry", "/r"}, {"registry_error_grace", "soon"}}),
                   "plugin_opt_registry_error_grace must be seconds (60) or a duration "
                   "(90s, 5m), not 'soon'");
}

void last_use_is_off_unless_a_file_is_named(void**) {
    auto off = parse({{"registry", "/r"}});
    assert_true(off->last_use.empty());
    auto on = parse({{"registry", "/r"}, {"last_use", "/var/lib/mosquitto/keyauth-last-use"}});
    assert_string_equal(on->last_use.c_str(), "/var/lib/mosquitto/keyauth-last-use");
    assert_int_equal(on->last_use_interval, 60);
    assert_int_equal(
        parse({{"registry", "/r"}, {"last_use", "/f"}, {"last_use_interval", "1"}})
            ->last_use_interval,
        1);
    expect_refused(parse({{"registry", "/r"}, {"last_use", "/f"}, {"last_use_interval", "5m"}}),
                   "plugin_opt_last_use_interval: the last-use interval must be 1s to 60s, "
                   "not '5m'");
    expect_refused(parse({{"registry", "/r"}, {"last_use_interval", "1s"}}),
                   "plugin_opt_last_use_interval needs plugin_opt_last_use FILE");
}

// The broker's auto_id_prefix ("auto-" unless mosquitto.conf says otherwise);
// one with ':' would put assigned ids in a registered client's namespace.
void the_auto_id_prefix_is_the_brokers(void**) {
    assert_string_equal(parse({{"registry", "/r"}})->auto_id_prefix.c_str(), "auto-");
    assert_string_equal(
        parse({{"registry", "/r"}, {"auto_id_prefix", "dev-"}})->auto_id_prefix.c_str(), "dev-");
    expect_refused(parse({{"registry", "/r"}, {"auto_id_prefix", "alice:"}}),
                   "plugin_opt_auto_id_prefix must be without ':' (an MQTT client id 'ID:...' "
                   "is registered client ID's)");
}

void the_registry_is_required(void**) {
    expect_refused(parse({}),
                   "plugin_opt_registry DIR is required (the directory of keytool init)");
    expect_refused(parse({{"token_auth", "true"}}),
                   "plugin_opt_registry DIR is required (the directory of keytool init)");
}

void mistakes_are_named_as_written(void**) {
    expect_refused(parse({{"registry", "/r"}, {"tokens", "on"}}),
                   "unknown option plugin_opt_tokens (known: registry, token_auth, "
                   "clientid_match, registry_error_grace, sys_interval, last_use, "
                   "last_use_interval, auto_id_prefix)");
    expect_refused(parse({{"registry", "/r"}, {"registry", "/s"}}),
                   "plugin_opt_registry is given twice");
    expect_refused(parse({{"registry", ""}}), "plugin_opt_registry has no value");
    expect_refused(parse({{"registry", "/r"}, {"token_auth", "yes"}}),
                   "plugin_opt_token_auth must be true or false, not 'yes'");
    expect_refused(parse({{"registry", "/r"}, {"clientid_match", "TRUE"}}),
                   "plugin_opt_clientid_match must be true or false, not 'TRUE'");
}

// The broker may hand over a NULL key or value: refused, never read.
void null_strings_are_refusals(void**) {
    mosquitto_opt null_value{const_cast<char*>("registry"), nullptr};
    expect_refused(parse_options(&null_value, 1), "plugin_opt_registry has no value");
    mosquitto_opt null_key{nullptr, const_cast<char*>("/r")};
    assert_false(parse_options(&null_key, 1).ok());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_registry_alone_takes_the_defaults),
        cmocka_unit_test(every_option_is_read),
        cmocka_unit_test(the_grace_takes_seconds_or_a_duration),
        cmocka_unit_test(the_registry_is_required),
        cmocka_unit_test(last_use_is_off_unless_a_file_is_named),
        cmocka_unit_test(mistakes_are_named_as_written),
        cmocka_unit_test(the_auto_id_prefix_is_the_brokers),
        cmocka_unit_test(null_strings_are_refusals),
    };
    return run_group(tests);
}
