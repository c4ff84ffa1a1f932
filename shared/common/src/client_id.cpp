#include "keyauth/client_id.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace keyauth {
namespace {

constexpr std::uint8_t kAlnum = 1;
constexpr std::uint8_t kIdChar = 2;

// Each byte's class: one load a byte where the comparisons took up to eight
// (every token check validates its id twice: presented, and as stored).
constexpr std::array<std::uint8_t, 256> kByteClass = [] {
    std::array<std::uint8_t, 256> table{};
    for (int c = 0; c < 256; ++c) {
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        const bool id_char = alnum || c == '.' || c == '_' || c == '@' || c == '-';
        table[c] = static_cast<std::uint8_t>((alnum ? kAlnum : 0) | (id_char ? kIdChar : 0));
    }
    return table;
}();

bool is_alnum(char c) {
    return (kByteClass[static_cast<std::uint8_t>(c)] & kAlnum) != 0;
}

bool is_id_char(char c) {
    return (kByteClass[static_cast<std::uint8_t>(c)] & kIdChar) != 0;
}

enum class IdProblem { none, empty, too_long, bad_start, bad_char, double_dot };

// Allocation-free, so the token hot path can use it.
IdProblem find_problem(std::string_view id, char& offender) noexcept {
    if (id.empty())
        return IdProblem::empty;
    if (id.size() > kMaxClientIdLength)
        return IdProblem::too_long;
    if (!is_alnum(id.front())) {
        offender = id.front();
        return IdProblem::bad_start;
    }
    for (std::size_t i = 0; i < id.size(); ++i) {
        if (!is_id_char(id[i])) {
            offender = id[i];
            return IdProblem::bad_char;
        }
        if (id[i] == '.' && i + 1 < id.size() && id[i + 1] == '.')
            return IdProblem::double_dot;
    }
    return IdProblem::none;
}

// The offending byte, shown safely whatever it is.
std::string describe_byte(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f)
        return std::string("'") + c + "'";
    static constexpr char kDigits[] = "0123456789abcdef";
    return std::string("byte 0x") + kDigits[byte >> 4] + kDigits[byte & 0x0f];
}

}  // namespace

bool is_valid_client_id(std::string_view id) noexcept {
    char offender = 0;
    return find_problem(id, offender) == IdProblem::none;
}

Status check_client_id(std::string_view id) {
    char offender = 0;
    switch (find_problem(id, offender)) {
        case IdProblem::none:
            return {};
        case IdProblem::empty:
            return make_error(Errc::invalid_argument, "client id is empty");
        case IdProblem::too_long:
            return make_error(
                Errc::invalid_argument,
                "client id is longer than " + std::to_string(kMaxClientIdLength) + " characters");
        case IdProblem::bad_start:
            return make_error(Errc::invalid_argument,
                              "client id must start with a letter or digit (found " +
                                  describe_byte(offender) + ")");
        case IdProblem::bad_char:
            return make_error(Errc::invalid_argument,
                              "client id may only hold A-Z a-z 0-9 . _ @ - (found " +
                                  describe_byte(offender) + ")");
        case IdProblem::double_dot:
            return make_error(Errc::invalid_argument, "client id must not contain \"..\"");
    }
    return make_error(Errc::invalid_argument, "client id is invalid");
}

}  // namespace keyauth
