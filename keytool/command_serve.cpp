#include "commands.hpp"
#include "console/console_server.hpp"

namespace keytool {

int run_serve(const Invocation& invocation, const Arguments& arguments) {
    if (!arguments.operands.empty())
        return report_failure("serve takes no operands");
    console::ServeOptions options;
    options.registry = invocation.registry;
    options.tls = arguments.flag("tls");
    if (const auto listen = arguments.value("listen")) {
        auto parsed = console::parse_listen(*listen, options);
        if (!parsed)
            return report_failure(parsed.error());
        options = *parsed;
    }
    if (auto s = console::serve(options); !s)
        return report_failure(s.error());
    return kExitOk;
}

}  // namespace keytool
