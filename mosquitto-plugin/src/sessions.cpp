#include "sessions.hpp"

#include <algorithm>

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

void SessionTable::disconnected(const mosquitto* client) {
    if (parked_.erase(client) > 0)
        return;
    auto it = sessions_.find(client);
    if (it == sessions_.end())
        return;
    if (it->second.persistent)
        parked_.insert_or_assign(client, std::move(it->second));
    sessions_.erase(it);
}

const Session* SessionTable::find_parked(const mosquitto* client) const {
    auto it = parked_.find(client);
    return it == parked_.end() ? nullptr : &it->second;
}

bool SessionTable::holds_mqtt_client_id(std::string_view mqtt_client_id) const {
    for (const auto* table : {&sessions_, &parked_}) {
        for (const auto& [client, session] : *table) {
            if (session.mqtt_client_id == mqtt_client_id)
                return true;
        }
    }
    return false;
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

}  // namespace keyauth::mqtt
