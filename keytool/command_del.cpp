#include <cstdio>

#include "commands.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/issuance.hpp"

namespace keytool {

int run_del(const Invocation& invocation, const Arguments& arguments) {
    if (arguments.operands.size() != 1)
        return report_failure("del takes exactly one client id");
    const std::string& id = arguments.operands.front();
    if (auto s = keyauth::check_client_id(id); !s)
        return report_failure(s.error());
    if (invocation.etcd.enabled())
        return run_del_in_fleet(invocation, id);
    // Opening for writing would make a registry of any directory: judge it first.
    if (auto s = keyauth::check_registry_directory(invocation.registry.dir); !s)
        return report_failure(s.error());
    auto registry =
        keyauth::LmdbRegistry::open(invocation.registry.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return report_failure(registry.error());
    if (auto s = keyauth::revoke_client(**registry, id); !s)
        return report_failure(s.error());
    std::puts("deleted");
    return kExitOk;
}

}  // namespace keytool
