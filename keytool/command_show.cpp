#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "client_last_use.hpp"
#include "commands.hpp"
#include "record_store.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/client_listing.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/lmdb_registry.hpp"

namespace keytool {

nlohmann::ordered_json client_json(std::string_view id,
                                   const keyauth::ClientCredentials& credentials,
                                   std::int64_t now) {
    nlohmann::ordered_json client;
    client["id"] = id;
    client["state"] = keyauth::state_name(keyauth::client_state(credentials, now));
    add_credential_fields(client, credentials);
    return client;
}

int run_show(const Invocation& invocation, const Arguments& arguments) {
    if (arguments.operands.size() != 1)
        return report_failure("show takes exactly one client id");
    const std::string& id = arguments.operands.front();
    if (auto s = keyauth::check_client_id(id); !s)
        return report_failure(s.error());
    // With --etcd, the fleet's record, not this host's.
    auto registry = invocation.etcd.enabled() ? record_store(invocation)->open_to_read()
                                              : open_local_to_read(invocation.registry);
    if (!registry)
        return report_failure(registry.error());
    keyauth::ClientCredentials credentials;
    if (auto s = (*registry)->find(id, credentials); !s) {
        if (s.code() == keyauth::Errc::unknown_client)
            return report_failure("no client " + id);
        return report_failure(s.error());
    }
    // With --etcd, each host's published last use, named.
    // Only this client's is kept; the registry's size bounds what a host may publish.
    std::optional<ClientLastUse> last_use;
    if (arguments.flag("last-use") || invocation.etcd.enabled()) {
        keyauth::KeptClients kept{[&id](std::string_view other) { return other == id; }, 0, 1};
        if (invocation.etcd.enabled()) {
            auto registry_size = (*registry)->count();
            if (!registry_size)
                return report_failure(registry_size.error());
            kept.registry_size = *registry_size;
        }
        auto read = read_client_last_use(invocation, arguments.values("last-use"), kept,
                                         LastUseNeed::to_show);
        if (!read)
            return report_failure(read.error());
        if (read->any_source)
            last_use = std::move(*read);
    }
    const std::int64_t now = keyauth::unix_now();
    if (arguments.flag("json")) {
        auto client = client_json(id, credentials, now);
        if (last_use) {
            add_last_use_field(client, last_use->merged, id);
            if (invocation.etcd.enabled()) {
                last_use->add_by_host_field(client, id);
                client["stale_hosts"] =
                    stale_hosts_json(last_use->hosts, last_use->markers_read, now);
            }
        }
        std::printf("%s\n", json_text(client).c_str());
        return kExitOk;
    }
    std::printf("ID                  %s\n", id.c_str());
    std::printf("STATE               %s\n",
                std::string(keyauth::state_name(keyauth::client_state(credentials, now))).c_str());
    std::printf("VALID FROM          %s\n", format_time(credentials.validity.not_before).c_str());
    std::printf("EXPIRE              %s\n", format_time(credentials.validity.not_after).c_str());
    std::printf("ISSUED              %s\n", format_time(credentials.issued_at).c_str());
    std::printf("SERIAL              %s\n", credentials.serial.hex().c_str());
    std::printf("CERTIFICATE SHA-256 %s\n", credentials.certificate_fingerprint.hex().c_str());
    if (last_use)
        std::printf("LAST USED           %s (at least this recent)\n",
                    format_last_use(last_use->merged, id).c_str());
    if (last_use && invocation.etcd.enabled()) {
        std::printf("LAST USED BY HOST   %s\n", last_use->by_host(id, now).c_str());
        // A stale host that never saw the client may have since.
        std::string stale;
        for (const auto& host : last_use->hosts) {
            if (is_stale(host, now))
                stale += (stale.empty() ? "" : ", ") + host.host + " (" + stale_as_of(host) + ")";
        }
        if (!stale.empty())
            std::printf("STALE HOSTS         %s\n", stale.c_str());
    }
    // Said even once the grace is over: the record holds them until the next change.
    if (credentials.previous.present()) {
        std::printf("PREVIOUS VALID TO   %s%s\n",
                    format_time(credentials.previous.valid_until).c_str(),
                    credentials.previous.valid_until < now ? " (grace over)" : " (in grace)");
    }
    return kExitOk;
}

}  // namespace keytool
