// Client ids: the one rule for what names a client everywhere.
#pragma once

#include <cstddef>
#include <string_view>

#include "keyauth/result.hpp"

namespace keyauth {

inline constexpr std::size_t kMaxClientIdLength = 64;

// 1..64 characters from A-Z a-z 0-9 . _ @ -, starting with a letter or digit,
// never containing "..". Safe as a file-name component and an MQTT client id.
bool is_valid_client_id(std::string_view id) noexcept;

// As is_valid_client_id, with a message naming the first problem.
Status check_client_id(std::string_view id);

}  // namespace keyauth
