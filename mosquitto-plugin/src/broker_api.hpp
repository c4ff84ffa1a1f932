// The broker's plugin API, included in the order Mosquitto 2.0 requires, and
// the plugin's one way to log: every line starts with "keyauth: ".
#pragma once

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

namespace keyauth::mqtt {

void log(int level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// A printable stand-in for the broker's optional strings.
inline const char* or_unknown(const char* text) {
    return text != nullptr ? text : "<unknown>";
}

}  // namespace keyauth::mqtt
