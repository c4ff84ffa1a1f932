#include "fleet.hpp"

#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/files.hpp"
#include "keyauth/staged_files.hpp"

namespace keytool {
namespace {

constexpr std::int64_t kStaleAfterSeconds = 30;

}  // namespace

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
                               const keyauth::IssueRequest& request,
                               const keyauth::Delivery& deliver,
                               const std::function<void()>& undeliver) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    return keyauth::issue_client(**fleet, authority, request, keyauth::unix_now(), deliver,
                                 undeliver);
}

keyauth::Status revoke_in_fleet(const EtcdTarget& target, const std::string& id) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    return keyauth::revoke_client(**fleet, id);
}

int run_init_in_fleet(const Invocation& invocation, const keyauth::InitOptions& options) {
    const keyauth::RegistryLayout& registry = invocation.registry;
    // The administrator's registry keeps the CA key; an existing one is the
    // fleet's CA, published as it is.
    if (!keyauth::registry_initialized(registry)) {
        if (auto s = keyauth::initialize_registry(registry, options); !s)
            return report_failure(s.error());
        std::printf("Initialized registry %s\n", registry.dir.c_str());
    }
    auto pem = keyauth::read_small_file(registry.ca_cert());
    if (!pem)
        return report_failure(pem.error());
    auto fleet = connect_fleet(invocation.etcd);
    if (!fleet)
        return report_failure(fleet.error());
    if (auto s = (*fleet)->publish_ca_certificate(*pem); !s)
        return report_failure(s.error());
    std::printf("Published CA certificate %s to etcd\n", registry.ca_cert().c_str());
    auto fleet_id = (*fleet)->publish_fleet_id();
    if (!fleet_id)
        return report_failure(fleet_id.error());
    std::printf("Fleet id %s\n", fleet_id->c_str());
    return kExitOk;
}

keyauth::Result<std::vector<keyauth::ClientRecord>> list_fleet(const EtcdTarget& target) {
    auto fleet = connect_fleet(target);
    if (!fleet)
        return fleet.error();
    return (*fleet)->list();
}

int run_server_cert_issue(const Invocation& invocation, const Arguments& arguments) {
    const auto hosts = arguments.values("host");
    const auto output = arguments.value("output");
    if (hosts.empty() || !output)
        return report_failure(
            "server-cert --issue needs --host NAME (repeatable) and --output PREFIX");
    auto days = parse_days(arguments, keyauth::kDefaultCaDays);
    if (!days)
        return report_failure(days.error());
    for (const std::string& host : hosts) {
        if (auto s = keyauth::check_host_name(host); !s)
            return report_failure(s.error());
    }
    auto authority = keyauth::load_authority(invocation.registry);
    if (!authority)
        return report_failure(authority.error());
    auto issued = authority->issue_server(hosts, *days, keyauth::unix_now());
    if (!issued)
        return report_failure(issued.error());
    const bool force = arguments.flag("force");
    keyauth::StagedFiles files;
    auto s = files.stage(*output + "_cert.pem", issued->certificate_pem, 0644, force);
    if (s)
        s = files.stage(*output + "_key.pem", issued->private_key_pem.view(), 0600, force);
    if (s)
        s = files.publish();
    if (!s)
        return report_failure(s.error());
    std::printf("Save server certificate %s_cert.pem\n", output->c_str());
    std::printf("Save server key %s_key.pem\n", output->c_str());
    return kExitOk;
}

keyauth::Status refuse_on_replica(const keyauth::RegistryLayout& registry, std::string_view what) {
    // Opening for writing would make a registry of any directory: judge it first.
    if (!keyauth::check_registry_directory(registry.dir))
        return {};
    auto opened = keyauth::LmdbRegistry::open(registry.dir, keyauth::OpenMode::read_write);
    if (!opened)
        return {};  // not ours to judge: the command's own open says why
    auto writer = (*opened)->begin_write();  // read, never committed
    if (!writer)
        return writer.error();
    auto revision = (*writer)->find_meta(keyauth::kReplicaRevisionMeta);
    if (!revision)
        return revision.error();
    if (!*revision)
        return {};
    return keyauth::make_error(
        keyauth::Errc::invalid_argument,
        registry.dir + " is a replica kept by keyauth-sync from etcd (revision " + **revision +
            "): " + std::string(what) +
            " the fleet with keytool --etcd ENDPOINTS (on the administrator's registry), and "
            "every host follows");
}

int run_status(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("status takes no operands");
    if (auto s = keyauth::check_registry_directory(invocation.registry.dir); !s)
        return report_failure(s.error());
    auto registry =
        keyauth::LmdbRegistry::open(invocation.registry.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return report_failure(registry.error());
    std::optional<std::string> revision;
    std::optional<std::string> contact;
    std::optional<std::string> held;
    std::optional<std::string> cluster;
    std::optional<std::string> fleet_id;
    {
        auto writer = (*registry)->begin_write();  // read, never committed
        if (!writer)
            return report_failure(writer.error());
        auto r = (*writer)->find_meta(keyauth::kReplicaRevisionMeta);
        auto c = (*writer)->find_meta(keyauth::kReplicaContactMeta);
        auto h = (*writer)->find_meta(keyauth::kReplicaHeldMeta);
        auto k = (*writer)->find_meta(keyauth::kReplicaClusterMeta);
        auto f = (*writer)->find_meta(keyauth::kReplicaFleetIdMeta);
        for (const auto* meta : {&r, &c, &h, &k, &f}) {
            if (!*meta)
                return report_failure(meta->error());
        }
        revision = *r;
        contact = *c;
        held = *h;
        cluster = *k;
        fleet_id = *f;
    }
    auto records = (*registry)->list();
    if (!records)
        return report_failure(records.error());
    std::printf("registry:      %s\n", invocation.registry.dir.c_str());
    std::printf("clients:       %zu\n", records->size());
    if (!revision) {
        std::puts("replica:       no (not kept by keyauth-sync)");
        return kExitOk;
    }
    std::printf("etcd revision: %s\n", revision->c_str());
    // Which store that revision is of: hosts of one fleet show the same two.
    std::printf("etcd cluster:  %s\n", cluster.value_or("").c_str());
    std::printf("fleet id:      %s\n", fleet_id.value_or("").c_str());
    const std::int64_t seen = contact ? std::strtoll(contact->c_str(), nullptr, 10) : 0;
    const std::int64_t age = keyauth::unix_now() - seen;
    std::printf("last contact:  %s (%lld s ago)\n", format_time(seen).c_str(),
                static_cast<long long>(age));
    // keyauth-sync records contact at least every few seconds while etcd answers.
    std::int64_t stale_after = kStaleAfterSeconds;
    if (auto value = arguments.value("stale-after")) {
        char* end = nullptr;
        stale_after = std::strtoll(value->c_str(), &end, 10);
        if (value->empty() || *end != '\0' || stale_after < 0)
            return report_failure("--stale-after needs a number of seconds");
    }
    // keyauth-sync refused a rebuild that would lose clients: it serves
    // what it had, which is no longer what etcd holds.
    if (held && !held->empty()) {
        std::printf("state:         HELD: %s\n", held->c_str());
        return kExitFailure;
    }
    if (age > stale_after) {
        std::printf("state:         STALE: no contact with etcd for %lld s\n",
                    static_cast<long long>(age));
        return kExitFailure;
    }
    std::puts("state:         current");
    return kExitOk;
}

}  // namespace keytool
