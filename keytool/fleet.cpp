#include "fleet.hpp"

#include <cstdio>
#include <cstdlib>

#include "audited_change.hpp"
#include "commands.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/files.hpp"
#include "keyauth/lmdb_registry.hpp"

namespace keytool {

bool is_etcd_flag(std::string_view word) {
    const std::string_view name = word.substr(0, word.find('='));
    if (name == "--etcd")
        return true;
    for (std::string_view flag : keyauth::etcd_flag_names()) {
        if (name.size() == flag.size() + 2 && name.substr(2) == flag)
            return true;
    }
    return false;
}

keyauth::Status take_etcd_flag(int argc, char** argv, int& i, EtcdTarget& target) {
    const std::string word = argv[i];
    const auto equals = word.find('=');
    const std::string name = word.substr(2, equals == std::string::npos ? equals : equals - 2);
    std::string value;
    if (equals != std::string::npos) {
        value = word.substr(equals + 1);
    } else if (i + 1 < argc) {
        value = argv[++i];
    }
    if (value.empty())
        return keyauth::make_error(keyauth::Errc::invalid_argument, "--" + name + " needs a value");
    if (name == "etcd")
        target.endpoints = value;
    else
        target.flags.emplace_back(name, value);
    return {};
}

EtcdTarget resolve_etcd(EtcdTarget target) {
    if (!target.endpoints) {
        if (const char* env = std::getenv(std::string(keyauth::kEtcdEnvVar).c_str());
            env != nullptr && *env != '\0')
            target.endpoints = env;
    }
    return target;
}

keyauth::Result<std::unique_ptr<keyauth::EtcdRegistry>> connect_fleet(const EtcdTarget& target) {
    auto options = keyauth::etcd_options(target.endpoints.value_or(""), target.flags);
    if (!options)
        return options.error();
    auto client = keyauth::EtcdClient::connect(std::move(*options));
    if (!client)
        return client.error();
    return std::make_unique<keyauth::EtcdRegistry>(std::move(*client));
}

keyauth::Status issue_in_fleet(const EtcdTarget& target,
                               const keyauth::CertificateAuthority& authority,
                               const keyauth::IssueRequest& request, std::int64_t now,
                               const keyauth::Delivery& deliver,
                               const std::function<void()>& undeliver, std::int64_t& revision) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    auto s = keyauth::issue_client(**fleet, authority, request, now, deliver, undeliver);
    revision = (*fleet)->written_revision();
    return s;
}

keyauth::Status revoke_in_fleet(const EtcdTarget& target, const std::string& id,
                                std::int64_t& revision) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    auto s = keyauth::revoke_client(**fleet, id);
    revision = (*fleet)->written_revision();
    return s;
}

keyauth::Result<bool> suspend_in_fleet(const EtcdTarget& target, const std::string& id,
                                       bool suspended, std::int64_t& revision) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    auto changed = keyauth::set_client_suspended(**fleet, id, suspended);
    revision = (*fleet)->written_revision();
    return changed;
}

int run_init_in_fleet(const Invocation& invocation, const keyauth::InitOptions& options,
                      AuditedChange& change) {
    const keyauth::RegistryLayout& registry = invocation.registry;
    // The administrator's registry keeps the CA key; an existing one is the
    // fleet's CA, published as it is.
    const bool existed = keyauth::registry_initialized(registry);
    change.event().add("ca", existed ? "kept" : "new");
    if (!existed) {
        if (auto s = keyauth::initialize_registry(registry, options); !s)
            return change.fail(s.error());
        std::printf("Initialized registry %s\n", registry.dir.c_str());
    }
    auto pem = keyauth::read_small_file(registry.ca_cert());
    if (!pem)
        return change.fail(pem.error());
    auto fleet = connect_fleet(invocation.etcd);
    if (!fleet)
        return change.fail(fleet.error());
    auto s = (*fleet)->publish_ca_certificate(*pem);
    if (s)
        std::printf("Published CA certificate %s to etcd\n", registry.ca_cert().c_str());
    auto fleet_id = s ? (*fleet)->publish_fleet_id() : keyauth::Result<std::string>(s.error());
    if ((*fleet)->written_revision() != 0)
        change.event().revision = (*fleet)->written_revision();
    if (!fleet_id)
        return change.fail(fleet_id.error());
    change.event().add("fleet_id", *fleet_id);
    change.succeed();
    std::printf("Fleet id %s\n", fleet_id->c_str());
    return kExitOk;
}

keyauth::Result<std::vector<keyauth::ClientRecord>> list_fleet(const EtcdTarget& target) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    auto records = (*fleet)->list();
    // Said, not failed: the records every host holds are listed, and the
    // operator learns which keys to mend or remove (etcdctl).
    if (records && (*fleet)->refused() > 0)
        std::fprintf(stderr,
                     "keytool: %zu etcd record(s) refused and left out, as every host refuses "
                     "them; the first: %s\n",
                     (*fleet)->refused(), (*fleet)->refusal().c_str());
    return records;
}

keyauth::Result<keyauth::FleetLastUse> read_fleet_last_use(const EtcdTarget& target,
                                                           const keyauth::KeptClients& kept) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    auto fleet_id = keyauth::read_fleet_id((*fleet)->client());
    if (!fleet_id)
        return fleet_id.error();
    return keyauth::read_fleet_last_use((*fleet)->client(), *fleet_id, kept);
}

keyauth::Status refuse_on_replica(keyauth::LmdbRegistry& opened, const keyauth::RegistryLayout& registry,
                                  std::string_view what) {
    auto summary = opened.summarize({keyauth::kReplicaRevisionMeta});
    if (!summary)
        return summary.error();
    const std::optional<std::string>& revision = summary->meta.front();
    if (!revision)
        return {};
    return keyauth::make_error(
        keyauth::Errc::invalid_argument,
        registry.dir + " is a replica kept by keyauth-sync from etcd (revision " + *revision +
            "): " + std::string(what) +
            " the fleet with keytool --etcd ENDPOINTS (on the administrator's registry), and "
            "every host follows");
}

}  // namespace keytool
