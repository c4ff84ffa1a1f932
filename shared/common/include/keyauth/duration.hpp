// Durations as operators write them: "90s", "15m", "12h", "30d", or "0".
#pragma once

#include <cstdint>
#include <string_view>

#include "keyauth/result.hpp"

namespace keyauth {

inline constexpr std::int64_t kMaxDurationSeconds = std::int64_t{36500} * 86400;

// Seconds; refuses signs, spaces, fractions, unknown units and anything over
// 100 years.
Result<std::int64_t> parse_duration(std::string_view text);

}  // namespace keyauth
