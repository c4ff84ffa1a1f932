// The fleet's registry of record in etcd: where each thing lives, changes by
// compare-and-swap only, and the digest a replica checks itself against.
// The CA key never goes there; the CA certificate and the records do.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <sodium.h>

#include "keyauth/etcd_client.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/registry.hpp"

namespace keyauth {

inline constexpr std::string_view kFleetPrefix = "/keyauth/";
inline constexpr std::string_view kFleetClientsPrefix = "/keyauth/clients/";
inline constexpr std::string_view kFleetCaCertKey = "/keyauth/ca_cert";
// A random id written once, by `keytool --etcd init`: the fleet's name for
// itself. An etcd holding another (or none) is another fleet's store, even
// when its revision happens to be ahead of a replica's.
inline constexpr std::string_view kFleetIdKey = "/keyauth/fleet_id";

// What a replica (keyauth-sync) stores beside the clients, in the same
// transaction: the etcd revision it holds, and when it last heard from etcd
// (unix seconds, decimal), as of its last commit of a change. Between
// commits both move on in the contact file (keyauth/replica_contact.hpp).
inline constexpr std::string_view kReplicaRevisionMeta = "fleet.revision";
inline constexpr std::string_view kReplicaContactMeta = "fleet.contact";
// Which store that revision belongs to: etcd's cluster id and the fleet id.
inline constexpr std::string_view kReplicaClusterMeta = "fleet.cluster";
inline constexpr std::string_view kReplicaFleetIdMeta = "fleet.id";
// Non-empty while keyauth-sync refuses a rebuild that would lose too many
// clients: why, for `keytool status` (the replica serves its last state).
inline constexpr std::string_view kReplicaHeldMeta = "fleet.held";

// Would removing `lost` of the `served` clients a replica serves lose more
// than max_loss_percent of them? (A replica holds such a change for the
// operator: an emptied or replaced etcd must not empty the hosts.)
bool exceeds_loss(std::size_t served, std::size_t lost, int max_loss_percent);

std::string fleet_client_key(std::string_view client_id);
// A key under /keyauth/clients/, whatever follows.
bool is_fleet_client_key(std::string_view key);
// The id of a /keyauth/clients/<id> key; nullopt for any other key and for
// an id no registry may hold (check_client_id), which never reaches one.
std::optional<std::string> fleet_client_id(std::string_view key);
// A record from its etcd key and value, refused unless both are exact.
Result<ClientRecord> fleet_record(const EtcdKeyValue& kv);
// An etcd key as a log line may show it (etcd holds any bytes).
std::string printable_fleet_key(std::string_view key);

// Which of etcd's client records a host holds, read in id order (the
// order etcd lists keys in): those fleet_record accepts whose certificate no
// record before them holds. A certificate admits one client: a snapshot
// (a load, a rebuild, the digest's etcd side) keeps the same one on every
// host. The watcher judges from the host's own registry, which does not
// remember the later claimants it refused: after the first claimant goes or
// changes its certificate, a host may keep another one (or none) until its
// next digest check rebuilds it.
class FleetRecordFilter {
  public:
    // The record, or why a host refuses it.
    Result<ClientRecord> admit(const EtcdKeyValue& kv);
    // For a record fleet_record accepted: Errc::already_exists if an earlier
    // one holds its certificate, else the certificate is this one's.
    Status claim(const ClientRecord& record);

  private:
    struct FingerprintHash {
        std::size_t operator()(const Fingerprint& f) const noexcept;
    };
    std::unordered_set<Fingerprint, FingerprintHash> claimed_;
};

// The registry of record: a ClientStore for reading, CAS for changing.
class EtcdRegistry final : public ClientStore {
  public:
    explicit EtcdRegistry(std::unique_ptr<EtcdClient> client);

    Status find(std::string_view id, ClientCredentials& out) override;
    // A scan of every record: for administrators, not a request path.
    Status find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                               ClientCredentials& out) override;
    // The records a host holds (FleetRecordFilter); those it refuses are
    // left out, counted, and the first one said by refusal().
    Result<std::vector<ClientRecord>> list() override;
    std::uint64_t generation() override;  // the last etcd revision seen
    std::size_t refused() const { return refused_; }
    const std::string& refusal() const { return first_refusal_; }

    // Publishes the CA certificate if etcd has none; refuses a different one,
    // so that one fleet has one CA.
    Status publish_ca_certificate(std::string_view pem);
    // Writes a new random fleet id if etcd has none; the id etcd holds.
    Result<std::string> publish_fleet_id();

    EtcdClient& client() { return *client_; }

    // The revision etcd gave this registry's last write (the audit trail's
    // revision=); 0 before one, or when a settled write's is not known.
    std::int64_t written_revision() const { return written_revision_; }

  private:
    friend Status issue_client(EtcdRegistry&, const CertificateAuthority&, const IssueRequest&,
                               std::int64_t, const Delivery&, const std::function<void()>&);
    friend Status revoke_client(EtcdRegistry&, std::string_view);
    friend Result<bool> set_client_suspended(EtcdRegistry&, std::string_view, bool);

    std::unique_ptr<EtcdClient> client_;
    std::int64_t revision_ = 0;
    std::int64_t written_revision_ = 0;
    std::size_t refused_ = 0;
    std::string first_refusal_;
};

// As the one-host issue_client, with the registration a compare-and-swap in
// etcd: created only if the id is absent fleet-wide (or, with replace, only
// if nobody changed it since it was read). The CA certificate in etcd must be
// this authority's (published by `keytool --etcd init`: refused before it).
// A write whose answer never came is settled before returning: registered
// (ok), not registered (files undelivered), or, when etcd cannot say,
// Errc::io_error with "OUTCOME UNKNOWN" and the files kept, so that a client
// registered later is never one nobody holds the token of.
Status issue_client(EtcdRegistry& registry, const CertificateAuthority& authority,
                    const IssueRequest& request, std::int64_t now, const Delivery& deliver,
                    const std::function<void()>& undeliver);
// Deletes the client if nobody changed it since it was read.
Status revoke_client(EtcdRegistry& registry, std::string_view client_id);
// As the one-host set_client_suspended, if nobody changed it since it was read.
Result<bool> set_client_suspended(EtcdRegistry& registry, std::string_view client_id,
                                  bool suspended);

// SHA-256 over the records in id order (id, NUL, encoded credentials): two
// registries hold the same clients exactly when their digests are equal.
class RegistryDigest {
  public:
    RegistryDigest();
    // Records must come in increasing id order (as LMDB and etcd list them).
    void add(const ClientRecord& record);
    std::string hex();

  private:
    crypto_hash_sha256_state state_;
};

}  // namespace keyauth
