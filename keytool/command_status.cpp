#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "commands.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/etcd_registry.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/replica_contact.hpp"

namespace keytool {
namespace {

constexpr std::int64_t kStaleAfterSeconds = 30;

}  // namespace

int run_status(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("status takes no operands");
    if (auto s = keyauth::check_registry_directory(invocation.registry.dir); !s)
        return report_failure(s.error());
    auto registry =
        keyauth::LmdbRegistry::open(invocation.registry.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return report_failure(registry.error());
    auto summary = (*registry)->summarize(
        {keyauth::kReplicaRevisionMeta, keyauth::kReplicaContactMeta, keyauth::kReplicaHeldMeta,
         keyauth::kReplicaClusterMeta, keyauth::kReplicaFleetIdMeta});
    if (!summary)
        return report_failure(summary.error());
    // The newest contact and revision: keyauth-sync records them between
    // commits in a file beside LMDB.
    const keyauth::ReplicaProgress progress = keyauth::replica_progress(
        invocation.registry, summary->meta[0], summary->meta[1], summary->generation);
    const std::optional<std::string>& held = summary->meta[2];
    const std::optional<std::string>& cluster = summary->meta[3];
    const std::optional<std::string>& fleet_id = summary->meta[4];
    std::printf("registry:      %s\n", invocation.registry.dir.c_str());
    std::printf("clients:       %zu\n", summary->clients);
    if (progress.revision == 0) {
        std::puts("replica:       no (not kept by keyauth-sync)");
        return kExitOk;
    }
    std::printf("etcd revision: %lld\n", static_cast<long long>(progress.revision));
    // Which store that revision is of: hosts of one fleet show the same two.
    std::printf("etcd cluster:  %s\n", cluster.value_or("").c_str());
    std::printf("fleet id:      %s\n", fleet_id.value_or("").c_str());
    const std::int64_t seen = progress.contact;
    const std::int64_t age = keyauth::unix_now() - seen;
    std::printf("last contact:  %s (%lld s ago)\n", format_time(seen).c_str(),
                static_cast<long long>(age));
    // Then contact is LMDB's alone, which moves only with client changes: a
    // quiet host would look stale for it.
    if (!progress.contact_file_refused.empty())
        std::printf("contact file:  unreadable: %s (ignored)\n",
                    progress.contact_file_refused.c_str());
    // keyauth-sync records contact at least every 10 s while etcd answers.
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
