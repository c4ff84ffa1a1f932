#include "output.hpp"

#include <cstdio>
#include <ctime>

#include "commands.hpp"
#include "keyauth/json_text.hpp"

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

std::string json_string(std::string_view text) {
    std::string out;
    keyauth::append_json_string(out, text);
    return out;
}

std::string json_credential_fields(const keyauth::ClientCredentials& c) {
    return "\"valid_from\":" + json_string(format_time(c.validity.not_before)) +
           ",\"expire\":" + json_string(format_time(c.validity.not_after)) +
           ",\"not_before\":" + std::to_string(c.validity.not_before) +
           ",\"not_after\":" + std::to_string(c.validity.not_after) +
           ",\"issued_at\":" + std::to_string(c.issued_at) +
           ",\"serial\":" + json_string(c.serial.hex()) +
           ",\"certificate_sha256\":" + json_string(c.certificate_fingerprint.hex());
}

}  // namespace keytool
