#include "sessions.hpp"

#include <sodium.h>

#include <cstring>
#include <type_traits>

namespace keyauth::mqtt {

static_assert(sizeof(KeyedIdHash) == crypto_shorthash_KEYBYTES);
// SessionMap moves entries when it grows and erases: never half-way.
static_assert(std::is_nothrow_move_constructible_v<Session> &&
              std::is_nothrow_move_assignable_v<Session>);

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

Verdict recheck_session(ClientStore& store, std::string_view mqtt_client_id, Grant& grant,
                        std::int64_t now) {
    const AuthResult result =
        recheck_mqtt_session(store, mqtt_client_id, grant.client_id, grant.credential, now);
    if (result.accepted())
        grant.not_after = result.not_after;
    return result.verdict;
}

// The broker's addresses are not the client's choice: a multiplicative hash
// spreads them (their low bits are the allocator's alignment).
std::size_t SessionMap::home_of(const mosquitto* client) const noexcept {
    const std::uint64_t bits = reinterpret_cast<std::uintptr_t>(client) * 0x9E3779B97F4A7C15u;
    return static_cast<std::size_t>(bits ^ (bits >> 32)) & (index_.size() - 1);
}

std::size_t SessionMap::slot_of(const mosquitto* client) const noexcept {
    if (index_.empty())
        return kVacant;
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = home_of(client);; i = (i + 1) & mask) {
        const Slot& slot = index_[i];
        if (slot.entry == kVacant)
            return kVacant;  // never full: at most half the slots are taken
        if (slot.client == client)
            return i;
    }
}

SessionMap::Entry* SessionMap::find(const mosquitto* client) noexcept {
    const std::size_t i = slot_of(client);
    return i == kVacant ? nullptr : &entries_[index_[i].entry];
}

const SessionMap::Entry* SessionMap::find(const mosquitto* client) const noexcept {
    const std::size_t i = slot_of(client);
    return i == kVacant ? nullptr : &entries_[index_[i].entry];
}

void SessionMap::rebuild_index(std::size_t slots) {
    std::vector<Slot> index(slots);
    index_.swap(index);
    const std::size_t mask = slots - 1;
    for (std::size_t e = 0; e < entries_.size(); ++e) {
        std::size_t i = home_of(entries_[e].client);
        while (index_[i].entry != kVacant)
            i = (i + 1) & mask;
        index_[i] = Slot{entries_[e].client, e};
    }
}

SessionMap::Entry& SessionMap::insert(const mosquitto* client, Session&& session, bool counted) {
    // Everything that can throw comes before the session is moved.
    if (2 * (entries_.size() + 1) > index_.size())
        rebuild_index(index_.empty() ? 16 : 2 * index_.size());
    if (entries_.size() == entries_.capacity())
        entries_.reserve(entries_.empty() ? 8 : 2 * entries_.size());
    Entry& entry = entries_.emplace_back(client, std::move(session), counted);  // cannot throw now
    const std::size_t mask = index_.size() - 1;
    std::size_t i = home_of(client);
    while (index_[i].entry != kVacant)
        i = (i + 1) & mask;
    index_[i] = Slot{client, entries_.size() - 1};
    return entry;
}

void SessionMap::erase(Entry* entry) noexcept {
    const std::size_t position = static_cast<std::size_t>(entry - entries_.data());
    // Out of the index: the slots after it that may not stay where they are
    // shift back into the hole, so that no probe stops short of them.
    const std::size_t mask = index_.size() - 1;
    std::size_t hole = slot_of(entry->client);
    for (std::size_t i = (hole + 1) & mask; index_[i].entry != kVacant; i = (i + 1) & mask) {
        const std::size_t home = home_of(index_[i].client);
        // The slot stays when its home lies cyclically in (hole, i].
        const bool stays = hole < i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            index_[hole] = index_[i];
            hole = i;
        }
    }
    index_[hole] = Slot{};
    // Out of the array: the last entry takes its place.
    const std::size_t last = entries_.size() - 1;
    if (position != last) {
        entries_[position] = std::move(entries_[last]);
        index_[slot_of(entries_[position].client)].entry = position;
    }
    entries_.pop_back();
    if (index_.size() > kSmall)
        shrink_if_sparse();
}

// After a crowd has gone, memory goes back (amortized: a quarter or an
// eighth full before a shrink, half full after). A failed allocation only
// leaves the map larger.
void SessionMap::shrink_if_sparse() noexcept {
    if (4 * entries_.size() < entries_.capacity())
        entries_.shrink_to_fit();  // non-binding: never throws
    if (8 * entries_.size() < index_.size()) {
        try {
            rebuild_index(index_.size() / 4);
        } catch (...) {
        }
    }
}

void SessionTable::track(const mosquitto* client, Session&& session) {
    rule_.admitted(session.grant.not_after);
    // A client at an address the table still knows: the broker freed the
    // one before without telling (an expired offline session does not).
    if (SessionMap::Entry* known = sessions_.find(client))
        forget(sessions_, known);
    if (SessionMap::Entry* known = parked_.find(client))
        forget(parked_, known);
    if (session.assigned_form) {
        auto [entry, added] = assigned_ids_.try_emplace(std::string(session.mqtt_client_id), 0);
        try {
            sessions_.insert(client, std::move(session), true);
        } catch (...) {
            if (added)
                assigned_ids_.erase(entry);
            throw;
        }
        ++entry->second;
        return;
    }
    sessions_.insert(client, std::move(session), false);
}

void SessionTable::forget(SessionMap& table, SessionMap::Entry* entry) noexcept {
    if (entry->counted) {
        // The count was made with this id at track(); only a lookup's string can throw.
        try {
            auto counted = assigned_ids_.find(std::string(entry->session.mqtt_client_id));
            if (counted != assigned_ids_.end() && --counted->second == 0)
                assigned_ids_.erase(counted);
        } catch (...) {
        }
    }
    table.erase(entry);
}

void SessionTable::untrack(const mosquitto* client) noexcept {
    if (SessionMap::Entry* live = sessions_.find(client))
        forget(sessions_, live);
}

void SessionTable::disconnected(const mosquitto* client) {
    // The live session first: track() left no parked one at its address.
    SessionMap::Entry* live = sessions_.find(client);
    if (live == nullptr) {
        if (SessionMap::Entry* parked = parked_.find(client))
            forget(parked_, parked);
        return;
    }
    if (live->session.persistent) {
        // Parked under the same id: its count stays. If parking throws, the
        // session is still live and the caller forgets it.
        parked_.insert(client, std::move(live->session), live->counted);
        sessions_.erase(live);
        return;
    }
    forget(sessions_, live);
}

const Session* SessionTable::find_parked(const mosquitto* client) const {
    const SessionMap::Entry* parked = parked_.find(client);
    return parked == nullptr ? nullptr : &parked->session;
}

bool SessionTable::holds_broker_assigned_id(std::string_view mqtt_client_id) const {
    if (assigned_ids_.empty())
        return false;  // asked of every clean CONNECT: nothing built to find nothing
    return assigned_ids_.find(std::string(mqtt_client_id)) != assigned_ids_.end();
}

Session* SessionTable::find(const mosquitto* client) {
    SessionMap::Entry* live = sessions_.find(client);
    return live == nullptr ? nullptr : &live->session;
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
    for (SessionMap::Entry& entry : sessions_) {
        Session& session = entry.session;
        // recheck_session() renews not_after first: two statements, in this order
        const Verdict verdict = recheck_session(store, session.mqtt_client_id, session.grant, now);
        const SweepRuling ruling = rule_.judge(verdict, session.grant.not_after, now);
        if (ruling.fate == SessionFate::cut) {
            outcome.revoked.push_back({std::string(session.mqtt_client_id.view()),
                                       std::string(session.grant.client_id.view()), ruling.why});
            gone.push_back(entry.client);
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
