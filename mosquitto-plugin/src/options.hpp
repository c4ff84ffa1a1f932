// plugin_opt_* settings from mosquitto.conf.
#pragma once

#include <cstdint>
#include <string>

#include <keyauth/authenticator.hpp>
#include <keyauth/last_use.hpp>
#include <keyauth/result.hpp>
#include <keyauth/revocation_sweep.hpp>

#include "sys_topics.hpp"

struct mosquitto_opt;

namespace keyauth::mqtt {

struct Options {
    std::string registry_dir;    // plugin_opt_registry, required
    bool token_auth = true;      // plugin_opt_token_auth: CONNECT username is a token
    bool clientid_match = true;  // plugin_opt_clientid_match: certificate id == MQTT id
    // plugin_opt_auto_id_prefix: the broker's auto_id_prefix (the plugin API
    // does not tell it), which ids it assigns to clients that send none start with
    std::string auto_id_prefix = std::string(kDefaultAssignedIdPrefix);
    // plugin_opt_registry_error_grace: seconds live sessions outlive an
    // unreadable registry (0: cut at once)
    std::int64_t registry_error_grace = kDefaultRegistryErrorGrace;
    // plugin_opt_sys_interval: seconds between $SYS/broker/keyauth/
    // publications, as the broker's sys_interval (0: none). The plugin API
    // does not hand plugins the broker's own setting.
    std::int64_t sys_interval = kDefaultSysInterval;
    // plugin_opt_last_use: the file each client's last authentication is
    // recorded in ("" : not recorded); plugin_opt_last_use_interval: seconds
    // between writes, 1 to 60 (keyauth/last_use.hpp)
    std::string last_use;
    std::int64_t last_use_interval = kLastUseDefaultInterval;
};

// Refuses unknown, repeated or empty options, flags other than true/false
// graces or intervals other than seconds or a duration (60, 90s, 5m), and an
// auto_id_prefix with ':', naming the option as the operator wrote it.
Result<Options> parse_options(const mosquitto_opt* options, int count);

}  // namespace keyauth::mqtt
