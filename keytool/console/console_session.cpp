#include "console_session.hpp"

#include <sodium.h>

#include <array>
#include <iterator>

namespace keytool::console {
namespace {

bool equal_secrets(std::string_view expected, std::string_view given) {
    // Lengths are public (always 64); only the contents are compared in constant time.
    return !expected.empty() && expected.size() == given.size() &&
           sodium_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

std::string session_label(std::string_view session_id) {
    std::array<unsigned char, 8> hash{};
    crypto_generichash(hash.data(), hash.size(),
                       reinterpret_cast<const unsigned char*>(session_id.data()), session_id.size(),
                       nullptr, 0);
    char hex[hash.size() * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, hash.data(), hash.size());
    return hex;
}

}  // namespace

keyauth::SecretString random_hex_secret() {
    std::array<unsigned char, 32> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::string hex(bytes.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
    sodium_memzero(bytes.data(), bytes.size());
    hex.pop_back();
    return keyauth::SecretString(std::move(hex));
}

ConsoleSessions::ConsoleSessions() : login_secret_(random_hex_secret()) {}

std::optional<keyauth::SecretString> ConsoleSessions::log_in(std::string_view secret,
                                                             std::int64_t now) {
    if (!equal_secrets(login_secret_.view(), secret))
        return std::nullopt;
    login_secret_ = keyauth::SecretString();  // the link works once
    session_id_ = random_hex_secret();
    label_ = session_label(session_id_.view());
    last_seen_ = now;
    opened_ = now;
    return keyauth::SecretString(std::string(session_id_.view()));
}

bool ConsoleSessions::has_session(std::string_view token, std::int64_t now) {
    if (!equal_secrets(session_id_.view(), token))
        return false;
    if (now - last_seen_ > kSessionIdleSeconds || now - opened_ > kSessionMaxSeconds) {
        log_out();
        return false;
    }
    last_seen_ = now;
    return true;
}

void ConsoleSessions::log_out() {
    session_id_ = keyauth::SecretString();
    label_.clear();
}

bool LoginThrottle::allowed(std::string_view address, std::int64_t now) {
    const auto found = windows_.find(address);
    if (found == windows_.end() || now - found->second.start >= 60)
        return true;
    return found->second.failures < kLoginFailuresPerMinute;
}

void LoginThrottle::failed(std::string_view address, std::int64_t now) {
    // Old windows go first, so many addresses cannot make the map grow for long.
    for (auto it = windows_.begin(); it != windows_.end();)
        it = now - it->second.start >= 60 ? windows_.erase(it) : std::next(it);
    // Full: an address not yet counted is answered 401, not 429. The
    // secret is never guessed; the throttle only keeps the log quiet.
    if (windows_.size() >= kLoginThrottleAddresses && windows_.find(address) == windows_.end())
        return;
    auto [window, added] = windows_.try_emplace(std::string(address));
    if (added)
        window->second.start = now;
    ++window->second.failures;
}

}  // namespace keytool::console
