// Everything the plugin keeps between callbacks: the userdata Mosquitto hands
// back to each of them. Only the broker's one thread touches it.
#pragma once

#include <chrono>
#include <memory>

#include <keyauth/last_use.hpp>
#include <keyauth/refusal_log.hpp>
#include <keyauth/registry.hpp>

#include "broker_api.hpp"
#include "options.hpp"
#include "sessions.hpp"
#include "sys_topics.hpp"

namespace keyauth::mqtt {

struct Plugin {
    mosquitto_plugin_id_t* identifier = nullptr;
    Options options;
    std::unique_ptr<ClientStore> store;
    SessionTable sessions;
    RefusalLog refusals;  // which refusals get a line
    SysTopics sys;        // $SYS/broker/keyauth/ counters
    // plugin_opt_last_use: admissions marked, written by the tick
    std::unique_ptr<LastUseRecorder> last_use;
    std::chrono::steady_clock::time_point next_sweep{};
    std::chrono::steady_clock::time_point next_refusal_summary{};
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    bool ticked = false;          // a tick arrived: live revocation works
    bool warned_no_tick = false;  // said so once when it does not
    bool reloading = false;       // from MOSQ_EVT_RELOAD to the next tick
};

}  // namespace keyauth::mqtt
