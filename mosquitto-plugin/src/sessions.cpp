#include "sessions.hpp"

#include <sodium.h>

#include <cstring>

#include "client_ids.hpp"

namespace keyauth::mqtt {

static_assert(sizeof(KeyedIdHash) == crypto_shorthash_KEYBYTES);

KeyedIdHash::KeyedIdHash() : key_{} {
    // Without randomness (it never happens on Linux) a known key: slower
    // against chosen ids, never wrong.
    if (sodium_init() >= 0)
        randombytes_buf(key_, sizeof key_);
}

std::size_t KeyedIdHash::operator()(const std::string& id) const noexcept {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(id.data()), id.size(), key_);
    std::size_t hash;
    std::memcpy(&hash, out, sizeof hash);
    return hash;
}

Verdict recheck_grant(ClientStore& store, Grant& grant, std::int64_t now) {
    const AuthResult result = keyauth::recheck(store, grant.client_id, grant.credential, now);
    if (result.accepted())
        grant.not_after = result.not_after;
    return result.verdict;
}

void SessionTable::track(const mosquitto* client, Session session) {
    rule_.admitted(session.grant.not_after);
    // A client at an address the table still knows: the broker freed the
    // one before without telling (an expired offline session does not).
    if (auto it = sessions_.find(client); it != sessions_.end())
        forget(sessions_, it);
    if (auto it = parked_.find(client); it != parked_.end())
        forget(parked_, it);
    if (looks_broker_assigned(session.mqtt_client_id))
        ++assigned_ids_[session.mqtt_client_id];
    sessions_.emplace(client, std::move(session));
}

void SessionTable::forget(Sessions& table, Sessions::iterator entry) noexcept {
    const std::string& id = entry->second.mqtt_client_id;
    if (auto counted = assigned_ids_.find(id); counted != assigned_ids_.end()) {
        if (--counted->second == 0)
            assigned_ids_.erase(counted);
    }
    table.erase(entry);
}

void SessionTable::untrack(const mosquitto* client) noexcept {
    if (auto it = sessions_.find(client); it != sessions_.end())
        forget(sessions_, it);
}

void SessionTable::disconnected(const mosquitto* client) {
    // The live session first: track() left no parked one at its address.
    auto it = sessions_.find(client);
    if (it == sessions_.end()) {
        if (auto parked = parked_.find(client); parked != parked_.end())
            forget(parked_, parked);
        return;
    }
    if (it->second.persistent) {
        // Parked under the same id: its count stays.
        parked_.emplace(client, std::move(it->second));
        sessions_.erase(it);
        return;
    }
    forget(sessions_, it);
}

const Session* SessionTable::find_parked(const mosquitto* client) const {
    auto it = parked_.find(client);
    return it == parked_.end() ? nullptr : &it->second;
}

bool SessionTable::holds_broker_assigned_id(std::string_view mqtt_client_id) const {
    return assigned_ids_.find(std::string(mqtt_client_id)) != assigned_ids_.end();
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
        untrack(client);
    outcome.news = rule_.end();
    outcome.kept_through_error = rule_.kept_through_error();
    return outcome;
}

}  // namespace keyauth::mqtt
