// Who may use the console: one login link, used once, opens one session.
// The link carries its secret in the URL's fragment, which no browser sends;
// the page exchanges it for the session token and sends that in a header.
// No cookie: nothing the browser sends on its own, to this port or another.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "keyauth/token.hpp"

namespace keytool::console {

inline constexpr std::int64_t kSessionIdleSeconds = 2 * 3600;
// However busy: a session found or lent cannot be used for longer.
inline constexpr std::int64_t kSessionMaxSeconds = 12 * 3600;
// Wrong login secrets one address may try per minute before it gets 429.
inline constexpr int kLoginFailuresPerMinute = 10;
// Addresses counted at once (each failure walks them to drop old windows).
inline constexpr std::size_t kLoginThrottleAddresses = 1024;

class ConsoleSessions {
  public:
    ConsoleSessions();  // a fresh login secret

    // The secret of the link printed at start; empty once used.
    std::string_view login_secret() const { return login_secret_.view(); }

    // The session token, once: for the right secret, the first time.
    std::optional<keyauth::SecretString> log_in(std::string_view secret, std::int64_t now);

    // Constant-time; refreshes the idle timer, never the absolute lifetime.
    bool has_session(std::string_view token, std::int64_t now);
    // The session's name in logs and the audit trail: 16 hex digits of a hash
    // of its token, which they cannot give back. Empty without a session.
    const std::string& label() const { return label_; }
    void log_out();

  private:
    keyauth::SecretString login_secret_;
    keyauth::SecretString session_id_;
    std::string label_;
    std::int64_t last_seen_ = 0;
    std::int64_t opened_ = 0;
};

// Wrong login secrets per address and minute: past the limit, every login
// from that address answers 429 until its minute is over.
class LoginThrottle {
  public:
    bool allowed(std::string_view address, std::int64_t now);
    void failed(std::string_view address, std::int64_t now);

  private:
    struct Window {
        std::int64_t start = 0;
        int failures = 0;
    };
    std::map<std::string, Window, std::less<>> windows_;
};

// 32 random bytes from libsodium, as 64 lowercase hex digits.
keyauth::SecretString random_hex_secret();

}  // namespace keytool::console
