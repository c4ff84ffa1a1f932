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

std::string format_time(std::int64_t unix_seconds) {
    const auto seconds = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
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

std::string json_text(const nlohmann::ordered_json& value) {
    return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace keytool
