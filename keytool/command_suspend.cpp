#include <cstdio>

#include "audited_change.hpp"
#include "commands.hpp"
#include "fleet.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/issuance.hpp"

namespace keytool {
namespace {

keyauth::Result<bool> suspend_in_registry(const keyauth::RegistryLayout& layout,
                                          const std::string& id, bool suspended) {
    // Opening for writing would make a registry of any directory: judge it first.
    if (auto s = keyauth::check_registry_directory(layout.dir); !s)
        return s.error();
    auto registry = keyauth::LmdbRegistry::open(layout.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return registry.error();
    return keyauth::set_client_suspended(**registry, id, suspended);
}

// suspend and resume: one flag of the client's record, its credentials kept.
int set_suspended(const Invocation& invocation, const Arguments& arguments, bool suspended) {
    const char* command = suspended ? "suspend" : "resume";
    if (arguments.operands.size() != 1)
        return report_failure(std::string(command) + " takes exactly one client id");
    const std::string& id = arguments.operands.front();
    AuditedChange change(suspended ? keyauth::AuditAction::suspend : keyauth::AuditAction::resume,
                         id, invocation);
    if (auto s = keyauth::check_client_id(id); !s)
        return change.fail(s.error());
    if (!invocation.etcd.enabled()) {
        const char* what = suspended ? "suspend clients in" : "resume clients in";
        if (auto s = refuse_on_replica(invocation.registry, what); !s)
            return change.fail(s.error());
    }
    std::int64_t revision = 0;
    auto changed = invocation.etcd.enabled()
                       ? suspend_in_fleet(invocation.etcd, id, suspended, revision)
                       : suspend_in_registry(invocation.registry, id, suspended);
    if (revision != 0)
        change.event().revision = revision;
    if (!changed && changed.error().code == keyauth::Errc::unknown_client)
        return change.fail("no client " + id);
    if (!changed)
        return change.fail(changed.error());
    if (!*changed)
        change.event().add("unchanged", "yes");
    change.succeed();
    if (*changed)
        std::printf("%s\n", suspended ? "suspended" : "resumed");
    else
        std::printf("%s\n", suspended ? "already suspended" : "not suspended: nothing to resume");
    return kExitOk;
}

}  // namespace

int run_suspend(const Invocation& invocation, const Arguments& arguments) {
    return set_suspended(invocation, arguments, true);
}

int run_resume(const Invocation& invocation, const Arguments& arguments) {
    return set_suspended(invocation, arguments, false);
}

}  // namespace keytool
