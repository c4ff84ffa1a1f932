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
#include <keyauth/client_record.hpp>
#include <keyauth/registry.hpp>
#include <keyauth/revocation_sweep.hpp>

struct mosquitto;

namespace keyauth::mqtt {

// What a session proved, without its secret: the registered id and the
// digest of its token or certificate (a re-issue changes it).
struct Grant {
    std::string client_id;
    CredentialDigest credential;
    std::int64_t not_after = 0;

    static Grant from(const AuthResult& accepted) {
        return Grant{std::string(accepted.client_id()), accepted.credential, accepted.not_after};
    }
};

// Is the registry's current record still the one that admitted the session,
// and live now? Refreshes grant.not_after when it is.
Verdict recheck_grant(ClientStore& store, Grant& grant, std::int64_t now);

struct Session {
    std::string mqtt_client_id;  // what the broker knows it by, for the kick
    Grant grant;
    bool persistent = false;  // clean session off: the broker keeps it offline
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
    void track(const mosquitto* client, Session session);
    void untrack(const mosquitto* client) noexcept;
    // The broker reports a disconnect: a persistent session is kept offline
    // (parked) until the broker drops it, which it reports as well.
    void disconnected(const mosquitto* client);
    Session* find(const mosquitto* client);
    const Session* find_parked(const mosquitto* client) const;
    // Does a session we admitted, live or parked, go by this id of the form
    // the broker assigns (client_ids.hpp)? One probe: a CONNECT without an
    // id asks before it is authenticated.
    bool holds_broker_assigned_id(std::string_view mqtt_client_id) const;
    std::size_t size() const { return sessions_.size(); }
    // Calls used(client_id) for each live session's registered id; parked
    // sessions (offline) and cut ones (untracked) are not in use. For the
    // last-use pass: O(live sessions), nothing allocated.
    template <typename Used>
    void for_each_live(Used&& used) const {
        for (const auto& entry : sessions_)
            used(std::string_view(entry.second.grant.client_id));
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
    using Sessions = std::unordered_map<const mosquitto*, Session>;
    // Erases the entry and forgets its id.
    void forget(Sessions& table, Sessions::iterator entry) noexcept;

    Sessions sessions_;
    Sessions parked_;
    // The ids of the broker's assigned form among sessions_ and parked_,
    // counted: only these are ever asked about.
    std::unordered_map<std::string, std::size_t, KeyedIdHash> assigned_ids_;
    RevocationSweep rule_;
};

}  // namespace keyauth::mqtt
