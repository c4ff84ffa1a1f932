// The Authorization header: "Bearer" (any case), spaces, one token.
#pragma once

#include <optional>
#include <string_view>

namespace keyauth {

// The token inside an Authorization header value, or nothing if the value is
// not exactly one Bearer credential.
std::optional<std::string_view> bearer_token(std::string_view header_value) noexcept;

}  // namespace keyauth
