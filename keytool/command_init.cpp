#include <cstdio>

#include "audited_change.hpp"
#include "commands.hpp"
#include "keyauth/provisioning.hpp"
#include "keyauth/registry.hpp"

namespace keytool {

keyauth::Status require_registry(const keyauth::RegistryLayout& registry) {
    // Judged without writing anything: the same words as list and del.
    if (auto s = keyauth::check_registry_directory(registry.dir); !s)
        return s;
    if (!keyauth::registry_initialized(registry))
        return keyauth::make_error(keyauth::Errc::not_found,
                                   "registry " + registry.dir + " has no CA (run keytool init)");
    return {};
}

int run_init(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("init takes no operands");
    AuditedChange change(keyauth::AuditAction::init, "", invocation);
    auto days = parse_days(arguments, keyauth::kDefaultCaDays);
    if (!days)
        return change.fail(days.error());
    keyauth::InitOptions options;
    options.hosts = arguments.values("host");
    options.group = arguments.value("group");
    options.days = *days;
    change.event().add("hosts", join_hosts(options.hosts));
    change.event().add("group", options.group.value_or(""));
    const keyauth::RegistryLayout& registry = invocation.registry;
    if (invocation.etcd.enabled())
        return run_init_in_fleet(invocation, options, change);
    // Run again with hosts or a group, init changes them and keeps the CA and
    // every client.
    const bool existed = keyauth::registry_initialized(registry);
    change.event().add("ca", existed ? "kept" : "new");
    if (auto s = keyauth::initialize_registry(registry, options); !s)
        return change.fail(s.error());
    change.succeed();
    if (existed) {
        std::printf("Updated registry %s (CA and clients kept)\n", registry.dir.c_str());
        if (!options.hosts.empty()) {
            std::printf("Save server certificate %s\n", registry.server_cert().c_str());
            std::printf("Save server key %s\n", registry.server_key().c_str());
            std::printf("Restart mosquitto and reload nginx to serve the new certificate\n");
        }
        if (options.group)
            std::printf("Readable by group %s\n", options.group->c_str());
        return kExitOk;
    }
    std::printf("Initialized registry %s\n", registry.dir.c_str());
    std::printf("Save CA certificate %s\n", registry.ca_cert().c_str());
    std::printf("Save server certificate %s\n", registry.server_cert().c_str());
    std::printf("Save server key %s\n", registry.server_key().c_str());
    return kExitOk;
}

}  // namespace keytool
