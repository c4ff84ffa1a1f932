// What keytool prints: failures, usage errors, times and JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "keyauth/client_record.hpp"
#include "keyauth/last_use.hpp"
#include "keyauth/result.hpp"

namespace keytool {

struct Command;

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// "keytool: <message>" on stderr; returns kExitFailure.
int report_failure(const std::string& message);
int report_failure(const keyauth::Error& error);
// "keytool CMD: <message>" and the command's usage on stderr; returns kExitUsage.
int report_usage(const Command& command, const std::string& message);

// "2023-02-05 01:55:18 +0000 UTC", as the seed prints it.
std::string format_time(std::int64_t unix_seconds);
// Appends "valid_from", "expire", "not_before", "not_after", "issued_at",
// "serial" and "certificate_sha256" to a client's object (no secret: there is
// none in a record).
void add_credential_fields(nlohmann::ordered_json& object,
                           const keyauth::ClientCredentials& credentials);
// The servers' last-use files (--last-use, repeatable), merged: the latest
// any of them records. At least one; a file that cannot be read fails the
// command (a host left out could make a used client look unused).
keyauth::Result<keyauth::LastUseMap> read_last_use_files(const std::vector<std::string>& paths);
// LAST USED: format_time of the minute recorded, or "never".
std::string format_last_use(const keyauth::LastUseMap& last_use, std::string_view id);
// "last_used": Unix seconds of that minute, or null.
void add_last_use_field(nlohmann::ordered_json& object, const keyauth::LastUseMap& last_use,
                        std::string_view id);
// Compact, in the fields' order; bytes that are not UTF-8 (a path can hold
// any) printed as U+FFFD rather than failing.
std::string json_text(const nlohmann::ordered_json& value);

}  // namespace keytool
