#include <cstdio>

#include "audited_change.hpp"
#include "commands.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/files.hpp"
#include "keyauth/host_name.hpp"
#include "keyauth/provisioning.hpp"
#include "keyauth/staged_files.hpp"

namespace keytool {
namespace {

// --issue --host NAME...: a server certificate for another host of the fleet.
int run_server_cert_issue(const Invocation& invocation, const Arguments& arguments) {
    const auto hosts = arguments.values("host");
    const auto output = arguments.value("output");
    if (hosts.empty() || !output)
        return report_failure(
            "server-cert --issue needs --host NAME (repeatable) and --output PREFIX");
    AuditedChange change(keyauth::AuditAction::server_cert, "", invocation);
    change.event().add("hosts", join_hosts(hosts));
    auto days = parse_days(arguments, keyauth::kDefaultCaDays);
    if (!days)
        return change.fail(days.error());
    change.event().add("days", std::to_string(*days));
    for (const std::string& host : hosts) {
        if (auto s = keyauth::check_host_name(host); !s)
            return change.fail(s.error());
    }
    auto authority = keyauth::load_authority(invocation.registry);
    if (!authority)
        return change.fail(authority.error());
    auto issued = authority->issue_server(hosts, *days, keyauth::unix_now());
    if (!issued)
        return change.fail(issued.error());
    const bool force = arguments.flag("force");
    keyauth::StagedFiles files;
    auto s = files.stage(*output + "_cert.pem", issued->certificate_pem, 0644, force);
    if (s)
        s = files.stage(*output + "_key.pem", issued->private_key_pem.view(), 0600, force);
    if (s)
        s = files.publish();
    if (!s)
        return change.fail(s.error());
    change.event().add("serial", issued->serial.hex());
    change.succeed();
    std::printf("Save server certificate %s_cert.pem\n", output->c_str());
    std::printf("Save server key %s_key.pem\n", output->c_str());
    return kExitOk;
}

}  // namespace

int run_server_cert(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("server-cert takes no operands");
    if (arguments.flag("issue"))
        return run_server_cert_issue(invocation, arguments);
    if (auto s = require_registry(invocation.registry); !s)
        return report_failure(s.error());
    auto pem = keyauth::read_small_file(invocation.registry.ca_cert());
    if (!pem)
        return report_failure(pem.error());
    const auto output = arguments.value("output");
    if (!output) {
        std::fputs(pem->c_str(), stdout);
        return kExitOk;
    }
    if (auto s = keyauth::write_file_exclusive(*output, *pem, 0644, arguments.flag("force")); !s) {
        return report_failure(s.error());
    }
    std::printf("Save server certificate %s\n", output->c_str());
    return kExitOk;
}

}  // namespace keytool
