#include "options.hpp"

#include <string>
#include <string_view>

#include <keyauth/authenticator.hpp>

#include <keyauth/duration.hpp>

#include "broker_api.hpp"

namespace keyauth::mqtt {
namespace {

constexpr std::string_view kRegistry = "registry";
constexpr std::string_view kTokenAuth = "token_auth";
constexpr std::string_view kClientIdMatch = "clientid_match";
constexpr std::string_view kRegistryErrorGrace = "registry_error_grace";
constexpr std::string_view kSysInterval = "sys_interval";
constexpr std::string_view kLastUse = "last_use";
constexpr std::string_view kLastUseInterval = "last_use_interval";
constexpr std::string_view kAutoIdPrefix = "auto_id_prefix";

Status parse_bool(std::string_view key, std::string_view value, bool& out) {
    if (value == "true") {
        out = true;
    } else if (value == "false") {
        out = false;
    } else {
        return make_error(Errc::invalid_argument, "plugin_opt_" + std::string(key) +
                                                      " must be true or false, not '" +
                                                      std::string(value) + "'");
    }
    return {};
}

// Whole seconds ("60"), or a duration as keytool takes it ("90s", "5m").
Status parse_seconds(std::string_view key, std::string_view value, std::int64_t& out) {
    const bool digits = value.find_first_not_of("0123456789") == std::string_view::npos;
    Result<std::int64_t> parsed =
        parse_duration(digits ? std::string(value) + "s" : std::string(value));
    if (!parsed) {
        return make_error(Errc::invalid_argument,
                          "plugin_opt_" + std::string(key) +
                              " must be seconds (60) or a duration (90s, 5m), not '" +
                              std::string(value.substr(0, 32)) + "'");
    }
    out = *parsed;
    return {};
}

}  // namespace

Result<Options> parse_options(const mosquitto_opt* options, int count) {
    Options parsed;
    bool seen_registry = false, seen_token_auth = false, seen_clientid_match = false,
         seen_registry_error_grace = false, seen_sys_interval = false, seen_last_use = false,
         seen_last_use_interval = false, seen_auto_id_prefix = false;
    for (int i = 0; i < count; ++i) {
        const std::string_view key = options[i].key != nullptr ? options[i].key : "";
        const std::string_view value = options[i].value != nullptr ? options[i].value : "";
        bool* seen = key == kRegistry             ? &seen_registry
                     : key == kTokenAuth          ? &seen_token_auth
                     : key == kClientIdMatch      ? &seen_clientid_match
                     : key == kRegistryErrorGrace ? &seen_registry_error_grace
                     : key == kSysInterval        ? &seen_sys_interval
                     : key == kLastUse            ? &seen_last_use
                     : key == kLastUseInterval    ? &seen_last_use_interval
                     : key == kAutoIdPrefix       ? &seen_auto_id_prefix
                                                  : nullptr;
        if (seen == nullptr) {
            return make_error(Errc::invalid_argument,
                              "unknown option plugin_opt_" + std::string(key) +
                                  " (known: registry, token_auth, clientid_match, "
                                  "registry_error_grace, sys_interval, last_use, "
                                  "last_use_interval, auto_id_prefix)");
        }
        if (*seen) {
            return make_error(Errc::invalid_argument,
                              "plugin_opt_" + std::string(key) + " is given twice");
        }
        *seen = true;
        if (value.empty()) {
            return make_error(Errc::invalid_argument,
                              "plugin_opt_" + std::string(key) + " has no value");
        }
        Status s;
        if (key == kRegistry) {
            parsed.registry_dir = std::string(value);
        } else if (key == kTokenAuth) {
            s = parse_bool(key, value, parsed.token_auth);
        } else if (key == kRegistryErrorGrace) {
            s = parse_seconds(key, value, parsed.registry_error_grace);
        } else if (key == kSysInterval) {
            s = parse_seconds(key, value, parsed.sys_interval);
        } else if (key == kLastUse) {
            parsed.last_use = std::string(value);
        } else if (key == kLastUseInterval) {
            const bool digits = value.find_first_not_of("0123456789") == std::string_view::npos;
            auto interval =
                parse_last_use_interval(digits ? std::string(value) + "s" : std::string(value));
            if (!interval)
                return make_error(Errc::invalid_argument,
                                  "plugin_opt_last_use_interval: " + interval.error().message);
            parsed.last_use_interval = *interval;
        } else if (key == kAutoIdPrefix) {
            // With ':' the ids would be in a registered client's namespace.
            if (value.find(kClientIdSuffixSeparator) != std::string_view::npos)
                return make_error(Errc::invalid_argument,
                                  "plugin_opt_auto_id_prefix must be without ':' (an MQTT "
                                  "client id 'ID:...' is registered client ID's)");
            parsed.auto_id_prefix = std::string(value);
        } else {
            s = parse_bool(key, value, parsed.clientid_match);
        }
        if (!s)
            return s.error();
    }
    if (!seen_registry) {
        return make_error(Errc::invalid_argument,
                          "plugin_opt_registry DIR is required (the directory of keytool init)");
    }
    if (seen_last_use_interval && !seen_last_use) {
        return make_error(Errc::invalid_argument,
                          "plugin_opt_last_use_interval needs plugin_opt_last_use FILE");
    }
    return parsed;
}

}  // namespace keyauth::mqtt
