// Tokens: "<client id>:b:<hex of 32 random bytes>". Only a BLAKE2b-256 hash
// of the secret is ever stored.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "keyauth/result.hpp"
#include "keyauth/secret.hpp"

namespace keyauth {

inline constexpr std::size_t kTokenSecretBytes = 32;
inline constexpr std::size_t kTokenHashBytes = 32;
inline constexpr std::string_view kTokenSeparator = ":b:";
inline constexpr std::size_t kMaxTokenLength = 64 + kTokenSeparator.size() + 2 * kTokenSecretBytes;

using TokenSecret = SecretBytes<kTokenSecretBytes>;

struct TokenHash {
    std::array<std::uint8_t, kTokenHashBytes> bytes{};
};

// Constant-time: a hash is never compared with ==.
bool token_hashes_equal(const TokenHash& a, const TokenHash& b) noexcept;

TokenHash hash_token_secret(const TokenSecret& secret) noexcept;

struct ParsedToken {
    std::string_view client_id;  // points into the parsed text
    TokenSecret secret;
};

// Strict: a valid client id, ":b:", exactly 64 lowercase hex digits, nothing else.
// Never allocates; the reason for a refusal is not detailed on purpose.
bool parse_token(std::string_view text, ParsedToken& out) noexcept;

struct IssuedToken {
    SecretString text;  // handed out once, never stored
    TokenHash hash;     // what the registry keeps
};

IssuedToken generate_token(std::string_view client_id);

}  // namespace keyauth
