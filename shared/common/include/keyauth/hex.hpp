// Lowercase hex, the only spelling keyauth reads or writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keyauth {

std::string to_hex(const std::uint8_t* bytes, std::size_t length);

// Exactly 2 * length lowercase hex digits; anything else is refused.
bool from_lower_hex(std::string_view text, std::uint8_t* out, std::size_t length) noexcept;

}  // namespace keyauth
