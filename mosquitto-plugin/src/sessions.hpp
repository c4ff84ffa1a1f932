// Accepted MQTT sessions and what admitted them, so that a deletion, an
// expiry or a re-issue in the registry disconnects them within a tick.
// The broker's callbacks that use the table are in callbacks.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <keyauth/authenticator.hpp>
#include <keyauth/client_id.hpp>
#include <keyauth/client_record.hpp>
#include <keyauth/registry.hpp>
#include <keyauth/revocation_sweep.hpp>

#include "inline_text.hpp"

struct mosquitto;

namespace keyauth::mqtt {

// A registered id always fits in place; an MQTT client id of a registered
// id, ':' and a short suffix, or of the broker's assigned form, does too.
using ClientIdText = InlineText<kMaxClientIdLength>;

// What a session proved, without its secret: the registered id and the
// digest of its token or certificate (a re-issue changes it).
struct Grant {
    ClientIdText client_id;
    CredentialDigest credential;
    std::int64_t not_after = 0;

    static Grant from(const AuthResult& accepted) {
        return Grant{accepted.client_id(), accepted.credential, accepted.not_after};
    }
};

// Does the registry still admit the session under its MQTT client id
// (keyauth::recheck_mqtt_session): the record that admitted it, live now,
// and an id the broker assigned still no registered client's? Refreshes
// grant.not_after when it does.
Verdict recheck_session(ClientStore& store, std::string_view mqtt_client_id, Grant& grant,
                        std::int64_t now);

struct Session {
    ClientIdText mqtt_client_id;  // what the broker knows it by, for the kick
    Grant grant;
    bool persistent = false;  // clean session off: the broker keeps it offline
    // Its id has the form of one the broker assigns (has_assigned_id_form):
    // counted, so that no one else's CONNECT passes such an id for assigned.
    bool assigned_form = false;
};

// Sessions by the broker's client (an address the broker chose, not the
// client): a dense array that a sweep walks, and beside it an index of the
// addresses, open addressing with linear probing and no tombstones. Once
// the arrays have grown, a CONNECT and its DISCONNECT cost a probe each and
// no allocation. A pointer into it is valid until the map next changes.
class SessionMap {
  public:
    struct Entry {
        // Built in place from a session that moves in: nothing zeroed first.
        Entry(const mosquitto* broker_client, Session&& moved, bool is_counted) noexcept
            : client(broker_client), session(std::move(moved)), counted(is_counted) {}

        const mosquitto* client;
        Session session;
        bool counted;  // its id is in the table's assigned_ids_
    };

    Entry* find(const mosquitto* client) noexcept;
    const Entry* find(const mosquitto* client) const noexcept;
    // The client must not be in the map. Strong guarantee if it throws.
    Entry& insert(const mosquitto* client, Session&& session, bool counted);
    // An entry find() returned; the last entry takes its place.
    void erase(Entry* entry) noexcept;
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    std::vector<Entry>::iterator begin() noexcept { return entries_.begin(); }
    std::vector<Entry>::iterator end() noexcept { return entries_.end(); }
    std::vector<Entry>::const_iterator begin() const noexcept { return entries_.begin(); }
    std::vector<Entry>::const_iterator end() const noexcept { return entries_.end(); }

  private:
    static constexpr std::size_t kVacant = ~std::size_t{0};
    // Up to this many index slots (512 sessions) nothing is given back.
    static constexpr std::size_t kSmall = 1024;
    struct Slot {
        const mosquitto* client = nullptr;
        std::size_t entry = kVacant;  // its position in entries_
    };

    std::size_t home_of(const mosquitto* client) const noexcept;
    std::size_t slot_of(const mosquitto* client) const noexcept;  // kVacant: absent
    void rebuild_index(std::size_t slots);
    void shrink_if_sparse() noexcept;

    std::vector<Entry> entries_;
    std::vector<Slot> index_;  // a power of two, at most half full (empty: none yet)
};

// A session the registry no longer admits, or no longer answers for.
struct Revocation {
    std::string mqtt_client_id;
    std::string client_id;
    Verdict verdict;  // registry_error: unreadable for longer than the grace
};

struct SweepOutcome {
    std::vector<Revocation> revoked;
    SweepNews news = SweepNews::none;  // to log once
    std::size_t kept_through_error = 0;
};

// SipHash under a key made per table: ids a client chooses cannot be made
// to share a bucket.
class KeyedIdHash {
  public:
    KeyedIdHash();
    std::size_t operator()(const std::string& id) const noexcept;

  private:
    unsigned char key_[16];
};

class SessionTable {
  public:
    // registry_error_grace: seconds sessions outlive an unreadable registry.
    explicit SessionTable(std::int64_t registry_error_grace = kDefaultRegistryErrorGrace)
        : rule_(registry_error_grace) {}

    // Keyed by the broker's client: the broker reports every disconnect.
    void track(const mosquitto* client, Session&& session);
    void untrack(const mosquitto* client) noexcept;
    // The broker reports a disconnect: a persistent session is kept offline
    // (parked) until the broker drops it, which it reports as well.
    void disconnected(const mosquitto* client);
    Session* find(const mosquitto* client);
    const Session* find_parked(const mosquitto* client) const;
    // Does a session we admitted, live or parked, go by this id of the form
    // the broker assigns (Session::assigned_form)? One probe: a CONNECT without an
    // id asks before it is authenticated.
    bool holds_broker_assigned_id(std::string_view mqtt_client_id) const;
    std::size_t size() const { return sessions_.size(); }
    // Calls used(client_id) for each live session's registered id; parked
    // sessions (offline) and cut ones (untracked) are not in use. For the
    // last-use pass: O(live sessions), nothing allocated.
    template <typename Used>
    void for_each_live(Used&& used) const {
        for (const SessionMap::Entry& entry : sessions_)
            used(entry.session.grant.client_id.view());
    }

    // Re-checks every session when the core's rule says a sweep is due (the
    // registry changed, a validity ended, an error's grace ran out); the
    // sessions it cuts are untracked and returned.
    SweepOutcome sweep(ClientStore& store, std::int64_t now,
                       void (*on_sweep)(std::size_t sessions) = nullptr);
    std::int64_t registry_error_grace() const { return rule_.error_grace(); }
    // What the sweep would do now with a session checked outside it (a
    // reload re-authenticating it): an unreadable registry keeps it too.
    SweepRuling ruling(Verdict verdict, const Grant& grant, std::int64_t now) const {
        return rule_.ruling(verdict, grant.not_after, now);
    }

  private:
    // Erases the entry and forgets its id.
    void forget(SessionMap& table, SessionMap::Entry* entry) noexcept;

    SessionMap sessions_;
    SessionMap parked_;
    // The ids of the broker's assigned form among sessions_ and parked_,
    // counted: only these are ever asked about.
    std::unordered_map<std::string, std::size_t, KeyedIdHash> assigned_ids_;
    RevocationSweep rule_;
};

}  // namespace keyauth::mqtt
