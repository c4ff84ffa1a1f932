#include "sessions.hpp"

#include <algorithm>
#include <chrono>
#include <exception>

#include <keyauth/clock.hpp>

#include "broker_api.hpp"
#include "plugin_state.hpp"

namespace keyauth::mqtt {

Verdict recheck(ClientStore& store, Grant& grant, std::int64_t now) {
    const AuthResult result = keyauth::recheck(store, grant.client_id, grant.credential, now);
    if (result.accepted())
        grant.not_after = result.not_after;
    return result.verdict;
}

void SessionTable::track(const mosquitto* client, Session session) {
    earliest_not_after_ = std::min(earliest_not_after_, session.grant.not_after);
    sessions_.insert_or_assign(client, std::move(session));
}

Session* SessionTable::find(const mosquitto* client) {
    auto it = sessions_.find(client);
    return it == sessions_.end() ? nullptr : &it->second;
}

std::vector<Revocation> SessionTable::sweep(ClientStore& store, std::int64_t now,
                                            void (*on_sweep)(std::size_t sessions)) {
    std::vector<Revocation> revoked;
    if (sessions_.empty())
        return revoked;
    // Read before the lookups (it is the snapshot a lookup now reads): a
    // commit landing during the sweep changes it again, so the next tick
    // sweeps once more.
    const std::uint64_t generation = store.generation();
    if (generation == swept_generation_ && now <= earliest_not_after_)
        return revoked;
    if (on_sweep != nullptr)
        on_sweep(sessions_.size());
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
    std::vector<const mosquitto*> gone;
    for (auto& [client, session] : sessions_) {
        const Verdict verdict = recheck(store, session.grant, now);
        if (verdict == Verdict::accepted) {
            earliest = std::min(earliest, session.grant.not_after);
        } else {
            revoked.push_back({session.mqtt_client_id, session.grant.client_id, verdict});
            gone.push_back(client);
        }
    }
    // Nothing is forgotten until every verdict is in: if the sweep throws, the
    // next tick starts it again.
    for (const mosquitto* client : gone)
        sessions_.erase(client);
    swept_generation_ = generation;
    earliest_not_after_ = earliest;
    return revoked;
}

// Under load the broker fires the tick on every pass of its loop, thousands
// of times a second; looking at the registry every 50 ms keeps the promise
// of a disconnect within a second.
constexpr std::chrono::milliseconds kSweepInterval{50};

int on_tick(int /*event*/, void* /*event_data*/, void* userdata) {
    Plugin& plugin = *static_cast<Plugin*>(userdata);
    const auto now = std::chrono::steady_clock::now();
    if (now < plugin.next_sweep)
        return MOSQ_ERR_SUCCESS;
    plugin.next_sweep = now + kSweepInterval;
    std::vector<Revocation> revoked;
    try {
        revoked = plugin.sessions.sweep(*plugin.store, unix_now(), [](std::size_t count) {
            log(MOSQ_LOG_DEBUG, "registry changed or a validity ended: re-checking %zu sessions",
                count);
        });
    } catch (...) {
        log(MOSQ_LOG_ERR, "could not re-check sessions; trying again next tick");
        return MOSQ_ERR_SUCCESS;
    }
    // Kicked only after the sweep: a kick may report the disconnect at once.
    for (const Revocation& r : revoked) {
        const std::string_view why =
            r.verdict == Verdict::mismatch ? "re-issued" : verdict_reason(r.verdict);
        log(MOSQ_LOG_NOTICE, "disconnecting MQTT client '%s' of '%s': %.*s",
            r.mqtt_client_id.c_str(), r.client_id.c_str(), static_cast<int>(why.size()),
            why.data());
        mosquitto_kick_client_by_clientid(r.mqtt_client_id.c_str(), false);
    }
    return MOSQ_ERR_SUCCESS;
}

int on_disconnect(int /*event*/, void* event_data, void* userdata) {
    Plugin& plugin = *static_cast<Plugin*>(userdata);
    plugin.sessions.untrack(static_cast<mosquitto_evt_disconnect*>(event_data)->client);
    return MOSQ_ERR_SUCCESS;
}

}  // namespace keyauth::mqtt
