#include <string>

#include "commands.hpp"
#include "keyauth/lmdb_registry.hpp"

namespace keytool {

// Opening the registry as its owner is the upgrade (lmdb_registry.cpp's
// open_environment: a 0.1 layout, records of an older format, a lookup.idx
// the servers refuse): nothing else is read, nothing printed, so a package's
// configure can run it on every install.
int run_upgrade(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("upgrade takes no operands");
    const std::string& dir = invocation.registry.dir;
    // Not check_registry_directory: it refuses the older layouts this
    // upgrades. Its ownership part first: the path to the registry is judged
    // before anyone is told who may upgrade it.
    if (keyauth::Status s = keyauth::check_registry_ownership(dir); !s)
        return report_failure(s.error());
    if (!keyauth::may_write_registry(dir))
        return report_failure(
            "registry " + dir +
            ": only its owner can upgrade it (root, unless another user made it); the "
            "servers' group reads it");
    auto registry = keyauth::LmdbRegistry::open(dir, keyauth::OpenMode::read_write);
    if (!registry)
        return report_failure(registry.error());
    return kExitOk;
}

}  // namespace keytool
