#include <cstdio>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/token.hpp"
#include "record_store.hpp"

namespace keytool {
namespace {

// One line from stdin, without its line ending, wiped when done.
keyauth::SecretString read_token_line() {
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    return keyauth::SecretString(std::move(line));
}

}  // namespace

int run_verify(const Invocation& invocation, const Arguments& arguments) {
    if (arguments.operands.size() > 1)
        return report_failure("verify takes one token");
    keyauth::SecretString token;
    if (arguments.operands.empty() || arguments.operands.front() == "-") {
        token = read_token_line();
    } else {
        token = keyauth::SecretString(arguments.operands.front());
    }
    auto registry = open_local_to_read(invocation.registry);
    if (!registry)
        return report_failure(registry.error());
    const auto result = keyauth::check_token(**registry, token.view(), keyauth::unix_now());
    if (result.accepted()) {
        std::printf("valid: client %s until %s\n", std::string(result.client_id()).c_str(),
                    format_time(result.not_after).c_str());
        return kExitOk;
    }
    std::string why(keyauth::verdict_reason(result.verdict));
    if (result.client_id_length > 0)
        why += " (client " + std::string(result.client_id()) + ")";
    std::printf("invalid: %s\n", why.c_str());
    return kExitFailure;
}

}  // namespace keytool
