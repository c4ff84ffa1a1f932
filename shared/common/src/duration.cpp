#include "keyauth/duration.hpp"

#include <charconv>
#include <string>

namespace keyauth {

Result<std::int64_t> parse_duration(std::string_view text) {
    const Error bad = make_error(Errc::invalid_argument,
                                 "a duration is a whole number with s, m, h or d (90s, 12h, 30d) "
                                 "or 0, at most 36500d: not '" +
                                     std::string(text.substr(0, 32)) + "'");
    if (text == "0")
        return std::int64_t{0};
    if (text.size() < 2)
        return bad;
    std::int64_t unit = 0;
    switch (text.back()) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return bad;
    }
    const std::string_view digits = text.substr(0, text.size() - 1);
    std::int64_t count = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
    if (ec != std::errc() || end != digits.data() + digits.size() || count < 0 ||
        count > kMaxDurationSeconds / unit) {
        return bad;
    }
    return count * unit;
}

}  // namespace keyauth
