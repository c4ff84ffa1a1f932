// The broker's side of MQTT client ids; which ids a client may use is the
// core's rule (authenticator.hpp).
#pragma once

#include <string_view>

namespace keyauth::mqtt {

// Has the id the form Mosquitto 2.0 gives a client that sent none: its
// auto_id_prefix ("auto-"), then 36 characters, 8-4-4-4-12 uppercase hex
// digits from 16 random bytes? A client may choose such an id too. A prefix
// with ':' is never the broker's (authenticator.hpp's namespace rule).
bool looks_broker_assigned(std::string_view id);

}  // namespace keyauth::mqtt
