// plugin_opt_* settings from mosquitto.conf.
#pragma once

#include <string>

#include <keyauth/result.hpp>

struct mosquitto_opt;

namespace keyauth::mqtt {

struct Options {
    std::string registry_dir;    // plugin_opt_registry, required
    bool token_auth = true;      // plugin_opt_token_auth: CONNECT username is a token
    bool clientid_match = true;  // plugin_opt_clientid_match: certificate id == MQTT id
};

// Refuses unknown, repeated or empty options and values other than
// true/false, naming the option as the operator wrote it.
Result<Options> parse_options(const mosquitto_opt* options, int count);

}  // namespace keyauth::mqtt
