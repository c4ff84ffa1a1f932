// keytool's commands: each a thin adapter over the core.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "arguments.hpp"
#include "output.hpp"
#include "fleet.hpp"
#include "keyauth/client_record.hpp"
#include "keyauth/registry_layout.hpp"

namespace keytool {

// What every command gets besides its arguments.
struct Invocation {
    keyauth::RegistryLayout registry;
    EtcdTarget etcd;  // enabled: changes go to the fleet's etcd
};

struct Command {
    std::string_view name;
    std::string_view summary;
    std::string_view usage;  // full --help text
    std::vector<OptionSpec> options;
    int (*run)(const Invocation&, const Arguments&);
};

const std::vector<Command>& commands();

// Commands that issue need a registry made by init (or the package): they
// never make one, so a registry always has the group the servers need.
keyauth::Status require_registry(const keyauth::RegistryLayout& registry);

// {"id":...,"state":...,<add_credential_fields>}: show --json and the console.
nlohmann::ordered_json client_json(std::string_view id,
                                   const keyauth::ClientCredentials& credentials, std::int64_t now);

int run_init(const Invocation&, const Arguments&);
int run_gen(const Invocation&, const Arguments&);
int run_list(const Invocation&, const Arguments&);
int run_del(const Invocation&, const Arguments&);
int run_rotate(const Invocation&, const Arguments&);
int run_suspend(const Invocation&, const Arguments&);
int run_resume(const Invocation&, const Arguments&);
int run_server_cert(const Invocation&, const Arguments&);
int run_verify(const Invocation&, const Arguments&);
int run_serve(const Invocation&, const Arguments&);
int run_show(const Invocation&, const Arguments&);
int run_status(const Invocation&, const Arguments&);
int run_upgrade(const Invocation&, const Arguments&);

}  // namespace keytool
