#include <cstdio>

#include "commands.hpp"
#include "keyauth/files.hpp"
#include "keyauth/staged_files.hpp"
#include "keyauth/provisioning.hpp"

namespace keytool {

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
