#include "options.hpp"

#include <string_view>

#include "broker_api.hpp"

namespace keyauth::mqtt {
namespace {

constexpr std::string_view kRegistry = "registry";
constexpr std::string_view kTokenAuth = "token_auth";
constexpr std::string_view kClientIdMatch = "clientid_match";

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

}  // namespace

Result<Options> parse_options(const mosquitto_opt* options, int count) {
    Options parsed;
    bool seen_registry = false, seen_token_auth = false, seen_clientid_match = false;
    for (int i = 0; i < count; ++i) {
        const std::string_view key = options[i].key != nullptr ? options[i].key : "";
        const std::string_view value = options[i].value != nullptr ? options[i].value : "";
        bool* seen = key == kRegistry        ? &seen_registry
                     : key == kTokenAuth     ? &seen_token_auth
                     : key == kClientIdMatch ? &seen_clientid_match
                                             : nullptr;
        if (seen == nullptr) {
            return make_error(Errc::invalid_argument,
                              "unknown option plugin_opt_" + std::string(key) +
                                  " (known: registry, token_auth, clientid_match)");
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
    return parsed;
}

}  // namespace keyauth::mqtt
