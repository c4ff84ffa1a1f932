// The one read of the broker's private layout. mosquitto_plugin_id_t is
// opaque to plugins; Mosquitto 2.0 (src/mosquitto_broker_internal.h) defines
// it as
//     struct mosquitto__plugin_id_t { struct mosquitto__listener *listener; };
// with listener set only for a plugin loaded per listener. Mosquitto 2.1
// changes the struct: this file must be revisited before building for it.
// Tested on the packaged broker (Debian's 2.0.11) by
// tests/integration/mosquitto/per_listener_settings_warns.sh, both ways.
#include "broker_private.hpp"

#if LIBMOSQUITTO_MAJOR != 2 || LIBMOSQUITTO_MINOR != 0
#error "mosquitto_plugin_id_t's layout is known for Mosquitto 2.0 only: see this file"
#endif

namespace keyauth::mqtt {

bool loaded_per_listener(const mosquitto_plugin_id_t* identifier) {
    return *reinterpret_cast<void* const*>(identifier) != nullptr;
}

}  // namespace keyauth::mqtt
