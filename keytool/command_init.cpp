#include <cstdio>

#include "commands.hpp"
#include "keyauth/provisioning.hpp"

namespace keytool {

int run_init(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("init takes no operands");
    auto days = parse_days(arguments, keyauth::kDefaultCaDays);
    if (!days)
        return report_failure(days.error());
    keyauth::InitOptions options;
    options.hosts = arguments.values("host");
    options.group = arguments.value("group");
    options.days = *days;
    const keyauth::RegistryLayout& registry = invocation.registry;
    if (auto s = keyauth::initialize_registry(registry, options); !s) {
        return report_failure(s.error());
    }
    std::printf("Initialized registry %s\n", registry.dir.c_str());
    std::printf("Save CA certificate %s\n", registry.ca_cert().c_str());
    std::printf("Save server certificate %s\n", registry.server_cert().c_str());
    std::printf("Save server key %s\n", registry.server_key().c_str());
    return kExitOk;
}

keyauth::Status ensure_ca(const keyauth::RegistryLayout& registry) {
    auto created = keyauth::ensure_registry(registry);
    if (!created)
        return created.error();
    if (*created) {
        std::fprintf(stderr,
                     "keytool: created registry %s with a new CA and a server certificate for "
                     "localhost, 127.0.0.1, ::1\n",
                     registry.dir.c_str());
    }
    return {};
}

}  // namespace keytool
