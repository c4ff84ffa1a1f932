#include "audited_change.hpp"

#include "commands.hpp"

namespace keytool {

AuditedChange::AuditedChange(keyauth::AuditAction action, std::string client_id,
                             const Invocation& invocation) {
    event_.action = action;
    event_.client_id = std::move(client_id);
    event_.via = "cli";
    event_.add("registry", invocation.registry.dir);
    // server-cert issues from the CA key alone, never in etcd.
    if (invocation.etcd.enabled() && action != keyauth::AuditAction::server_cert)
        event_.add("etcd", "yes");
}

AuditedChange::~AuditedChange() {
    if (!recorded_)
        record(keyauth::make_error(keyauth::Errc::io_error, "keytool ended without an outcome"));
}

void AuditedChange::record(keyauth::Status result) {
    recorded_ = true;
    event_.result = std::move(result);
    keyauth::audit(event_);
}

int AuditedChange::fail(const std::string& message) {
    record(keyauth::make_error(keyauth::Errc::io_error, message));
    return report_failure(message);
}

int AuditedChange::fail(const keyauth::Error& error) {
    record(error);
    return report_failure(error);
}

int AuditedChange::succeed() {
    record({});
    return kExitOk;
}

std::string join_hosts(const std::vector<std::string>& hosts) {
    std::string joined;
    for (const std::string& host : hosts)
        joined += (joined.empty() ? "" : ",") + host;
    return joined;
}

}  // namespace keytool
