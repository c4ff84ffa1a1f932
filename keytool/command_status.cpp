#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "commands.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/replica_contact.hpp"

namespace keytool {
namespace {

constexpr std::int64_t kStaleAfterSeconds = 30;

}  // namespace

int run_status(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("status takes no operands");
    // keyauth-sync records contact at least every 10 s while etcd answers.
    std::int64_t stale_after = kStaleAfterSeconds;
    if (auto value = arguments.value("stale-after")) {
        char* end = nullptr;
        stale_after = std::strtoll(value->c_str(), &end, 10);
        if (value->empty() || *end != '\0' || stale_after < 0)
            return report_failure("--stale-after needs a number of seconds");
    }
    auto status = keyauth::read_replica_status(invocation.registry);
    if (!status)
        return report_failure(status.error());
    const keyauth::ReplicaProgress& progress = status->progress;
    std::printf("registry:      %s\n", invocation.registry.dir.c_str());
    std::printf("clients:       %zu\n", status->clients);
    // keyauth-sync refused a rebuild that would lose clients: it serves
    // what it had, which is no longer what etcd holds.
    const auto say_held = [&status] {
        std::printf("state:         HELD: %s\n", status->held->c_str());
        return kExitFailure;
    };
    if (progress.revision == 0) {
        if (status->held)  // at the first load: no revision yet
            return say_held();
        if (status->recorded_only) {
            // The registry's group, who reads nothing else of keyauth-sync's.
            std::printf("contact file:  unreadable: %s\n", progress.contact_file_refused.c_str());
            std::puts("state:         UNKNOWN: no contact recorded that this user may read");
            return kExitFailure;
        }
        std::puts("replica:       no (not kept by keyauth-sync)");
        return kExitOk;
    }
    std::printf("etcd revision: %lld\n", static_cast<long long>(progress.revision));
    // Which store that revision is of: hosts of one fleet show the same two.
    std::printf("etcd cluster:  %s\n", status->cluster.c_str());
    std::printf("fleet id:      %s\n", status->fleet_id.c_str());
    const std::int64_t seen = progress.contact;
    const std::int64_t age = keyauth::unix_now() - seen;
    std::printf("last contact:  %s (%lld s ago)\n", format_time(seen).c_str(),
                static_cast<long long>(age));
    // Then contact is LMDB's alone, which moves only with client changes: a
    // quiet host would look stale for it.
    if (!progress.contact_file_refused.empty())
        std::printf("contact file:  unreadable: %s (ignored)\n",
                    progress.contact_file_refused.c_str());
    if (status->recorded_only)
        std::puts("read as:       the registry's group: as keyauth-sync last recorded it");
    if (status->held)
        return say_held();
    if (age > stale_after) {
        std::printf("state:         STALE: no contact with etcd for %lld s\n",
                    static_cast<long long>(age));
        return kExitFailure;
    }
    std::puts("state:         current");
    return kExitOk;
}

}  // namespace keytool
