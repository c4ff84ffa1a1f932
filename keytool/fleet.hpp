// keytool against a fleet: --etcd ENDPOINTS (or $KEYAUTH_ETCD) sends gen, del
// and list to etcd, the registry of record; the CA key stays in --registry.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keyauth/etcd_registry.hpp"
#include "keyauth/fleet_last_use.hpp"
#include "keyauth/provisioning.hpp"

namespace keytool {

struct Invocation;
struct Arguments;
class AuditedChange;

struct EtcdTarget {
    std::optional<std::string> endpoints;
    std::vector<std::pair<std::string, std::string>> flags;  // --etcd-cacert FILE ...

    bool enabled() const { return endpoints.has_value(); }
};

bool is_etcd_flag(std::string_view word);
// Consumes the --etcd* flag at argv[i] (and its value).
keyauth::Status take_etcd_flag(int argc, char** argv, int& i, EtcdTarget& target);
// $KEYAUTH_ETCD when no --etcd was given.
EtcdTarget resolve_etcd(EtcdTarget target);

keyauth::Result<std::unique_ptr<keyauth::EtcdRegistry>> connect_fleet(const EtcdTarget& target);

// revision: the etcd revision the write got, for the audit trail (0: none
// made, or not known).
keyauth::Status issue_in_fleet(const EtcdTarget& target,
                               const keyauth::CertificateAuthority& authority,
                               const keyauth::IssueRequest& request, std::int64_t now,
                               const keyauth::Delivery& deliver,
                               const std::function<void()>& undeliver, std::int64_t& revision);
keyauth::Status revoke_in_fleet(const EtcdTarget& target, const std::string& id,
                                std::int64_t& revision);
keyauth::Result<bool> suspend_in_fleet(const EtcdTarget& target, const std::string& id,
                                       bool suspended, std::int64_t& revision);
int run_init_in_fleet(const Invocation& invocation, const keyauth::InitOptions& options,
                      AuditedChange& change);
keyauth::Result<std::vector<keyauth::ClientRecord>> list_fleet(const EtcdTarget& target);
// What each host's keyauth-sync --publish-last-use put into etcd, per host,
// the kept clients' only; a malformed shard is an error naming the host and the key.
keyauth::Result<keyauth::FleetLastUse> read_fleet_last_use(const EtcdTarget& target,
                                                           const keyauth::KeptClients& kept);
// Refuses a local change to a registry keyauth-sync keeps (the next digest
// check would undo it): ok for any other. Names --etcd. opened: registry's,
// opened for writing.
keyauth::Status refuse_on_replica(keyauth::LmdbRegistry& opened,
                                  const keyauth::RegistryLayout& registry, std::string_view what);

}  // namespace keytool
