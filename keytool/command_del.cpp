#include <cstdio>

#include "audited_change.hpp"
#include "commands.hpp"
#include "fleet.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/issuance.hpp"

namespace keytool {
namespace {

keyauth::Status revoke_in_registry(const keyauth::RegistryLayout& layout, const std::string& id) {
    // Opening for writing would make a registry of any directory: judge it first.
    if (auto s = keyauth::check_registry_directory(layout.dir); !s)
        return s;
    auto registry = keyauth::LmdbRegistry::open(layout.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return registry.error();
    return keyauth::revoke_client(**registry, id);
}

}  // namespace

int run_del(const Invocation& invocation, const Arguments& arguments) {
    if (arguments.operands.size() != 1)
        return report_failure("del takes exactly one client id");
    const std::string& id = arguments.operands.front();
    AuditedChange change(keyauth::AuditAction::del, id, invocation);
    if (auto s = keyauth::check_client_id(id); !s)
        return change.fail(s.error());
    // --force on a replica: this host only, until keyauth-sync's next digest
    // check restores etcd's state (an emergency revocation with etcd down).
    if (!invocation.etcd.enabled() && !arguments.flag("force")) {
        if (auto s = refuse_on_replica(invocation.registry, "delete clients from"); !s)
            return change.fail(s.error());
    }
    if (arguments.flag("force"))
        change.event().add("force", "yes");
    std::int64_t revision = 0;
    auto s = invocation.etcd.enabled() ? revoke_in_fleet(invocation.etcd, id, revision)
                                       : revoke_in_registry(invocation.registry, id);
    if (revision != 0)
        change.event().revision = revision;
    if (!s)
        return change.fail(s.error());
    change.succeed();
    std::puts("deleted");
    return kExitOk;
}

}  // namespace keytool
