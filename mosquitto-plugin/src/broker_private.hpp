// What the plugin reads of the broker beyond its plugin API. One place, so
// that a broker upgrade has one thing to look at.
#pragma once

#include "broker_api.hpp"

namespace keyauth::mqtt {

// Was the plugin loaded for one listener (per_listener_settings true)? Then
// Mosquitto 2.0 never delivers it a tick, and live revocation is off. The
// plugin API has no call that says so: see broker_private.cpp.
bool loaded_per_listener(const mosquitto_plugin_id_t* identifier);

}  // namespace keyauth::mqtt
