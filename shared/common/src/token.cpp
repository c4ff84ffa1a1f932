#include "keyauth/token.hpp"

#include <sodium.h>

#include "keyauth/hex.hpp"
#include "keyauth/client_id.hpp"

namespace keyauth {
namespace {

// libsodium picks its fastest BLAKE2b (AVX2, SSE4.1) only in sodium_init(),
// which nothing else calls in the servers: without it every check ran the
// portable code, three times the instructions.
bool sodium_ready() noexcept {
    static const bool ready = sodium_init() >= 0;
    return ready;
}

}  // namespace

bool token_hashes_equal(const TokenHash& a, const TokenHash& b) noexcept {
    static_assert(kTokenHashBytes == crypto_verify_32_BYTES);
    return crypto_verify_32(a.bytes.data(), b.bytes.data()) == 0;
}

TokenHash hash_token_secret(const TokenSecret& secret) noexcept {
    (void)sodium_ready();  // the portable code is as correct, only slower
    TokenHash hash;
    crypto_generichash(hash.bytes.data(), hash.bytes.size(), secret.data(), secret.size(), nullptr,
                       0);
    return hash;
}

// The secret's digits are the last 64 bytes and the separator the 3 before:
// no search (an id holds no ':', so this is the only place it can be).
bool parse_token(std::string_view text, ParsedToken& out) noexcept {
    constexpr std::size_t kTailBytes = kTokenSeparator.size() + 2 * kTokenSecretBytes;
    if (text.size() > kMaxTokenLength || text.size() <= kTailBytes)
        return false;
    const std::size_t separator = text.size() - kTailBytes;
    if (text.substr(separator, kTokenSeparator.size()) != kTokenSeparator)
        return false;
    const std::string_view id = text.substr(0, separator);
    const std::string_view hex = text.substr(separator + kTokenSeparator.size());
    if (!is_valid_client_id(id))
        return false;
    if (!from_lower_hex(hex, out.secret.data(), out.secret.size()))
        return false;
    out.client_id = id;
    return true;
}

IssuedToken generate_token(std::string_view client_id) {
    TokenSecret secret;
    randombytes_buf(secret.data(), secret.size());
    std::string text;
    text.reserve(client_id.size() + kTokenSeparator.size() + 2 * secret.size());
    text.append(client_id).append(kTokenSeparator);
    std::string hex = to_hex(secret.data(), secret.size());
    text.append(hex);
    sodium_memzero(hex.data(), hex.size());
    return IssuedToken{SecretString(std::move(text)), hash_token_secret(secret)};
}

}  // namespace keyauth
