// keytool's commands: each a thin adapter over the core.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "arguments.hpp"
#include "keyauth/client_record.hpp"
#include "keyauth/registry_layout.hpp"

namespace keytool {

// What every command gets: the registry and its own words.
struct Invocation {
    keyauth::RegistryLayout registry;
    std::vector<std::string> words;
};

struct Command {
    std::string_view name;
    std::string_view summary;
    std::string_view usage;  // full --help text
    std::vector<OptionSpec> options;
    int (*run)(const Invocation&, const Arguments&);
};

const std::vector<Command>& commands();

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// "keytool: <message>" on stderr; returns kExitFailure.
int report_failure(const std::string& message);
int report_failure(const keyauth::Error& error);
int report_usage(const Command& command, const std::string& message);

// Creates the CA on first use, telling stderr so.
keyauth::Status ensure_ca(const keyauth::RegistryLayout& registry);

// "2023-02-05 01:55:18 +0000 UTC", as the seed prints it.
std::string format_time(std::int64_t unix_seconds);
std::string json_string(std::string_view text);
// "valid_from":...,"expire":...,"not_before":...,"not_after":...,"issued_at":...,
// "serial":...,"certificate_sha256":... (no secret: there is none in a record)
std::string json_credential_fields(const keyauth::ClientCredentials& credentials);

// {"id":...,"state":...,<json_credential_fields>}: show --json and the console.
std::string json_client(std::string_view id, const keyauth::ClientCredentials& credentials,
                        std::int64_t now);

int run_init(const Invocation&, const Arguments&);
int run_gen(const Invocation&, const Arguments&);
int run_list(const Invocation&, const Arguments&);
int run_del(const Invocation&, const Arguments&);
int run_server_cert(const Invocation&, const Arguments&);
int run_verify(const Invocation&, const Arguments&);
int run_serve(const Invocation&, const Arguments&);
int run_show(const Invocation&, const Arguments&);

}  // namespace keytool
