#include "sessions.hpp"

namespace keyauth::mqtt {

Verdict recheck_grant(ClientStore& store, Grant& grant, std::int64_t now) {
    const AuthResult result = keyauth::recheck(store, grant.client_id, grant.credential, now);
    if (result.accepted())
        grant.not_after = result.not_after;
    return result.verdict;
}

void SessionTable::track(const mosquitto* client, Session session) {
    rule_.admitted(session.grant.not_after);
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

SweepOutcome SessionTable::sweep(ClientStore& store, std::int64_t now,
                                 void (*on_sweep)(std::size_t sessions)) {
    SweepOutcome outcome;
    if (sessions_.empty())
        return outcome;
    // Read before the lookups (it is the snapshot a lookup now reads): a
    // commit landing during the sweep changes it again, so the next tick
    // sweeps once more.
    const std::uint64_t generation = store.generation();
    if (!rule_.due(generation, now))
        return outcome;
    if (on_sweep != nullptr)
        on_sweep(sessions_.size());
    std::vector<const mosquitto*> gone;
    rule_.begin(generation);
    for (auto& [client, session] : sessions_) {
        // recheck_grant() renews not_after first: two statements, in this order
        const Verdict verdict = recheck_grant(store, session.grant, now);
        const SweepRuling ruling = rule_.judge(verdict, session.grant.not_after, now);
        if (ruling.fate == SessionFate::cut) {
            outcome.revoked.push_back(
                {session.mqtt_client_id, session.grant.client_id, ruling.why});
            gone.push_back(client);
        }
    }
    // Nothing is forgotten until every verdict is in: if the sweep throws, the
    // next tick starts it again.
    for (const mosquitto* client : gone)
        sessions_.erase(client);
    outcome.news = rule_.end();
    outcome.kept_through_error = rule_.kept_through_error();
    return outcome;
}

}  // namespace keyauth::mqtt
