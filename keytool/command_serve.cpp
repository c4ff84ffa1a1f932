#include <nlohmann/json.hpp>

#include "client_bundle.hpp"
#include "client_last_use.hpp"
#include "commands.hpp"
#include "fleet.hpp"
#include "console/console_server.hpp"
#include "console/from_keytool.hpp"
#include "record_store.hpp"

namespace keytool {

// What the console takes from keytool (console/from_keytool.hpp): the same
// JSON as show --json, the same files as gen --zip.
nlohmann::ordered_json console::describe_client(std::string_view id,
                                                const keyauth::ClientCredentials& credentials,
                                                std::int64_t now) {
    return client_json(id, credentials, now);
}

nlohmann::ordered_json console::describe_stale_hosts(const std::vector<keyauth::HostLastUse>& hosts,
                                                     bool markers_read, std::int64_t now) {
    return stale_hosts_json(hosts, markers_read, now);
}

console::ClientFiles console::client_files(const keyauth::IssuedClient& issued) {
    BundleNames names = default_bundle_names(issued.record.id);
    keyauth::SecretString zip = make_client_bundle(issued, names);
    return console::ClientFiles{std::move(names.certificate), std::move(names.private_key),
                                std::move(names.token), token_file_contents(issued),
                                std::move(zip)};
}

int run_serve(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("serve takes no operands");
    console::ServeOptions options;
    options.registry = invocation.registry;
    options.tls = arguments.flag("tls");
    options.hosts = arguments.values("host");
    options.last_use_files = arguments.values("last-use");
    if (invocation.etcd.enabled())
        options.fleet_last_use = [etcd = invocation.etcd] {
            // The fleet's clients first: only theirs is kept. An etcd user not
            // allowed to read it: no host's last use (unused= is then
            // refused), as keytool show does; any other error stands.
            auto records = list_fleet(etcd);
            if (!records)
                return keyauth::Result<keyauth::FleetLastUse>(records.error());
            auto fleet = read_fleet_last_use(etcd, kept_clients(*records));
            if (!fleet && fleet.error().code == keyauth::Errc::permission_denied) {
                keyauth::FleetLastUse none;
                none.markers_read = false;  // no host judged: stale_hosts null
                return keyauth::Result<keyauth::FleetLastUse>(std::move(none));
            }
            return fleet;
        };
    if (const auto listen = arguments.value("listen")) {
        auto parsed = console::parse_listen(*listen, options);
        if (!parsed)
            return report_failure(parsed.error());
        options = *parsed;
    }
    if (auto s = console::serve(options, record_store(invocation)); !s)
        return report_failure(s.error());
    return kExitOk;
}

}  // namespace keytool
