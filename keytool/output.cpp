#include "output.hpp"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "commands.hpp"

namespace keytool {

int report_failure(const std::string& message) {
    std::fprintf(stderr, "keytool: %s\n", message.c_str());
    return kExitFailure;
}

int report_failure(const keyauth::Error& error) {
    return report_failure(error.message);
}

int report_usage(const Command& command, const std::string& message) {
    std::fprintf(stderr, "keytool %s: %s\n%s", std::string(command.name).c_str(), message.c_str(),
                 std::string(command.usage).c_str());
    return kExitUsage;
}

namespace {

std::tm utc(std::int64_t unix_seconds) {
    const auto seconds = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    return tm;
}

}  // namespace

std::string format_time(std::int64_t unix_seconds) {
    const std::tm tm = utc(unix_seconds);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    return text;
}


void add_credential_fields(nlohmann::ordered_json& object, const keyauth::ClientCredentials& c) {
    object["valid_from"] = format_time(c.validity.not_before);
    object["expire"] = format_time(c.validity.not_after);
    object["not_before"] = c.validity.not_before;
    object["not_after"] = c.validity.not_after;
    object["issued_at"] = c.issued_at;
    object["serial"] = c.serial.hex();
    object["certificate_sha256"] = c.certificate_fingerprint.hex();
    object["suspended"] = c.suspended;
    // The credentials a rotation replaced, valid until (inclusive).
    if (c.previous.present()) {
        object["previous_valid_until"] = format_time(c.previous.valid_until);
        object["previous_not_after"] = c.previous.valid_until;
    }
}

keyauth::Result<keyauth::LastUseMap> read_last_use_files(const std::vector<std::string>& paths) {
    if (paths.empty()) {
        return keyauth::make_error(keyauth::Errc::invalid_argument,
                                   "--unused needs the servers' records: --last-use FILE "
                                   "(keyauth_last_use, plugin_opt_last_use), once per host");
    }
    keyauth::LastUseMap merged;
    for (const auto& path : paths) {
        auto one = keyauth::read_last_use(path);
        if (!one)
            return one.error();
        keyauth::merge_last_use(merged, *one);
    }
    return merged;
}

std::string format_last_use(const keyauth::LastUseMap& last_use, std::string_view id) {
    const auto found = last_use.find(id);
    return found == last_use.end() ? "never" : format_time(found->second);
}

void add_last_use_field(nlohmann::ordered_json& object, const keyauth::LastUseMap& last_use,
                        std::string_view id) {
    const auto found = last_use.find(id);
    if (found == last_use.end())
        object["last_used"] = nullptr;
    else
        object["last_used"] = found->second;
}

std::string json_text(const nlohmann::ordered_json& value) {
    return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace keytool
