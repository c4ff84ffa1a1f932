// Accepted MQTT sessions and what admitted them, so that a deletion, an
// expiry or a re-issue in the registry disconnects them within a tick.
// The broker's callbacks that use the table are in callbacks.hpp.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <keyauth/authenticator.hpp>
#include <keyauth/client_record.hpp>
#include <keyauth/registry.hpp>

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
Verdict recheck(ClientStore& store, Grant& grant, std::int64_t now);

struct Session {
    std::string mqtt_client_id;  // what the broker knows it by, for the kick
    Grant grant;
    bool persistent = false;  // clean session off: the broker keeps it offline
};

// A session the registry no longer admits.
struct Revocation {
    std::string mqtt_client_id;
    std::string client_id;
    Verdict verdict;
};

class SessionTable {
  public:
    // Keyed by the broker's client: the broker reports every disconnect.
    void track(const mosquitto* client, Session session);
    void untrack(const mosquitto* client) noexcept { sessions_.erase(client); }
    // The broker reports a disconnect: a persistent session is kept offline
    // (parked) until the broker drops it, which it reports as well.
    void disconnected(const mosquitto* client);
    Session* find(const mosquitto* client);
    const Session* find_parked(const mosquitto* client) const;
    // Does a session we admitted, live or parked, go by this MQTT client id?
    bool holds_mqtt_client_id(std::string_view mqtt_client_id) const;
    std::size_t size() const { return sessions_.size(); }

    // Re-checks every session when the registry has changed since the last
    // sweep or a session's validity has ended; the revoked ones are untracked
    // and returned.
    std::vector<Revocation> sweep(ClientStore& store, std::int64_t now,
                                  void (*on_sweep)(std::size_t sessions) = nullptr);

  private:
    std::unordered_map<const mosquitto*, Session> sessions_;
    std::unordered_map<const mosquitto*, Session> parked_;
    std::uint64_t swept_generation_ = 0;
    std::int64_t earliest_not_after_ = std::numeric_limits<std::int64_t>::max();
};

}  // namespace keyauth::mqtt
