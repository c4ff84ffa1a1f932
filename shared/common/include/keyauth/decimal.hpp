// Numbers keyauth writes for itself and reads back (etcd keys and markers,
// the fleet-contact file): one spelling each, so anything else is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace keyauth {

// Digits only: no sign, no space, no leading zero ("0" alone is zero), at
// most 2^64 - 1.
std::optional<std::uint64_t> parse_decimal(std::string_view text) noexcept;

}  // namespace keyauth
