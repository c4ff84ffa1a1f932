#include "console_requests.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "keyauth/client_id.hpp"
#include "keyauth/duration.hpp"
#include "keyauth/json_text.hpp"
#include "keyauth/provisioning.hpp"

namespace keytool::console {
namespace {

using keyauth::Errc;
using keyauth::make_error;

constexpr std::int64_t kSecondsPerDay = 86400;

// A field's name as the body spelled it, quoted.
std::string field_name(std::string_view name) {
    std::string out;
    keyauth::append_json_string(out, name);
    return out;
}

// A body's "days" or "expire", whichever it gives (once, not both), as days.
keyauth::Status read_validity(std::string_view name, const nlohmann::json& value, std::int64_t now,
                              bool& has_validity, int& days) {
    if (!has_validity && name == "days" && value.is_number_integer()) {
        const auto whole = value.get<std::int64_t>();
        if (whole < 1 || whole > keyauth::kMaxDays) {
            return make_error(Errc::invalid_argument, "days must be a whole number from 1 to " +
                                                          std::to_string(keyauth::kMaxDays));
        }
        days = static_cast<int>(whole);
    } else if (!has_validity && name == "expire" && value.is_string()) {
        auto until = days_until(value.get<std::string>(), now);
        if (!until)
            return until.error();
        days = *until;
    } else {
        return make_error(Errc::invalid_argument,
                          "give days (a whole number) or expire (YYYY-MM-DD), not both");
    }
    has_validity = true;
    return {};
}

}  // namespace

std::string log_safe(std::string_view text) {
    constexpr std::size_t kMaxLogged = 512;
    std::string out;
    for (const char c : text.substr(0, kMaxLogged)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    if (text.size() > kMaxLogged)
        out += "...";
    return out;
}

keyauth::Result<std::size_t> whole_number(const QueryParams& query, std::string_view name,
                                          std::size_t fallback, std::size_t low, std::size_t high) {
    const auto found = query.find(name);
    if (found == query.end())
        return fallback;
    const std::string& text = found->second;
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
        return make_error(Errc::invalid_argument,
                          std::string(name) + " must be a whole number from " +
                              std::to_string(low) + " to " + std::to_string(high));
    }
    return value;
}

keyauth::Result<keyauth::ListingQuery> listing_query(const QueryParams& query, std::int64_t now) {
    keyauth::ListingQuery listing;
    auto offset = whole_number(query, "offset", 0, 0, 100000000);
    auto limit = whole_number(query, "limit", 50, 1, keyauth::kMaxPageSize);
    if (!limit)  // both wrong: the limit is named, as it always was
        return limit.error();
    if (!offset)
        return offset.error();
    listing.offset = *offset;
    listing.limit = *limit;
    if (const auto q = query.find("q"); q != query.end() && !q->second.empty()) {
        // A search is a piece of an id: the id alphabet, at most an id long.
        const std::string probe = "a" + q->second;
        if (q->second.size() > keyauth::kMaxClientIdLength ||
            probe.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789._@-") != std::string::npos) {
            return make_error(Errc::invalid_argument,
                              "q must be up to 64 characters from A-Z a-z 0-9 . _ @ -");
        }
        listing.id_contains = q->second;
    }
    if (const auto expiring = query.find("expiring"); expiring != query.end()) {
        auto seconds = keyauth::parse_duration(expiring->second);
        if (!seconds)
            return make_error(Errc::invalid_argument, "expiring: " + seconds.error().message);
        listing.ending = keyauth::ending_within(now, *seconds);
    }
    if (const auto sort = query.find("sort"); sort != query.end()) {
        std::string_view name = sort->second;
        listing.descending = !name.empty() && name.front() == '-';
        if (listing.descending)
            name.remove_prefix(1);
        if (name == "id") {
            listing.order = keyauth::ListOrder::id;
        } else if (name == "valid_from") {
            listing.order = keyauth::ListOrder::valid_from;
        } else if (name == "expire") {
            listing.order = keyauth::ListOrder::expire;
        } else {
            return make_error(Errc::invalid_argument,
                              "sort must be id, valid_from or expire, optionally after '-'");
        }
    }
    return listing;
}

keyauth::Result<int> days_until(const std::string& date, std::int64_t now) {
    const keyauth::Error bad =
        make_error(Errc::invalid_argument, "expire must be a date YYYY-MM-DD after today");
    if (date.size() != 10 || date[4] != '-' || date[7] != '-')
        return bad;
    int parts[3] = {0, 0, 0};
    const std::size_t starts[3] = {0, 5, 8};
    const std::size_t lengths[3] = {4, 2, 2};
    for (int i = 0; i < 3; ++i) {
        const char* first = date.data() + starts[i];
        const auto [end, ec] = std::from_chars(first, first + lengths[i], parts[i]);
        if (ec != std::errc() || end != first + lengths[i])
            return bad;
    }
    std::tm tm{};
    tm.tm_year = parts[0] - 1900;
    tm.tm_mon = parts[1] - 1;
    tm.tm_mday = parts[2];
    const std::int64_t day = timegm(&tm);
    std::tm check{};
    const auto day_t = static_cast<std::time_t>(day);
    gmtime_r(&day_t, &check);
    if (parts[1] < 1 || parts[1] > 12 || check.tm_mday != parts[2] || check.tm_mon != tm.tm_mon)
        return bad;  // 2027-02-30 and the like
    const std::int64_t today = now - now % kSecondsPerDay;
    const std::int64_t days = (day - today) / kSecondsPerDay;
    if (days < 1 || days > keyauth::kMaxDays)
        return make_error(Errc::invalid_argument, "expire must be after today and within " +
                                                      std::to_string(keyauth::kMaxDays) + " days");
    return static_cast<int>(days);
}

keyauth::Result<keyauth::IssueRequest> issue_request(std::string_view body, std::int64_t now) {
    const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
        return make_error(Errc::invalid_argument, "the body must be a JSON object");
    keyauth::IssueRequest request;
    bool has_id = false;
    bool has_validity = false;
    for (const auto& [name, value] : parsed.items()) {
        if (name == "id" && value.is_string()) {
            request.client_id = value.get<std::string>();
            has_id = true;
        } else if (name == "force" && value.is_boolean()) {
            request.replace = value.get<bool>();
        } else if (name == "days" || name == "expire") {
            if (keyauth::Status s = read_validity(name, value, now, has_validity, request.days); !s)
                return s.error();
        } else {
            return make_error(Errc::invalid_argument, "unexpected field " + field_name(name) +
                                                          " (id, days, expire, force)");
        }
    }
    if (!has_id)
        return make_error(Errc::invalid_argument, "id is required");
    if (keyauth::Status s = keyauth::check_client_id(request.client_id); !s)
        return s.error();
    return request;
}

keyauth::Result<keyauth::IssueRequest> rotate_request(std::string_view id, std::string_view body,
                                                      std::int64_t now) {
    const nlohmann::json parsed =
        body.empty() ? nlohmann::json::object() : nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
        return make_error(Errc::invalid_argument, "the body must be a JSON object");
    keyauth::IssueRequest request;
    request.client_id = std::string(id);
    request.rotate_grace = 0;
    bool has_validity = false;
    for (const auto& [name, value] : parsed.items()) {
        if (name == "grace" && value.is_string()) {
            auto seconds = keyauth::parse_duration(value.get<std::string>());
            if (!seconds)
                return make_error(Errc::invalid_argument, "grace: " + seconds.error().message);
            request.rotate_grace = *seconds;
        } else if (name == "days" || name == "expire") {
            if (keyauth::Status s = read_validity(name, value, now, has_validity, request.days); !s)
                return s.error();
        } else if (name == "grace") {
            return make_error(Errc::invalid_argument, "grace must be a duration such as 7d or 12h");
        } else {
            return make_error(Errc::invalid_argument,
                              "unexpected field " + field_name(name) + " (grace, days, expire)");
        }
    }
    if (keyauth::Status s = keyauth::check_client_id(request.client_id); !s)
        return s.error();
    if (keyauth::Status s = keyauth::check_issue_request(request); !s)
        return s.error();
    return request;
}

keyauth::Result<std::optional<keyauth::ClientState>> state_filter(const QueryParams& query) {
    const auto found = query.find("state");
    if (found == query.end() || found->second.empty())
        return std::optional<keyauth::ClientState>();
    if (const auto state = keyauth::state_named(found->second))
        return state;
    return make_error(Errc::invalid_argument,
                      "state must be active, suspended, expired or not yet valid");
}

keyauth::Result<std::optional<std::int64_t>> unused_filter(const QueryParams& query) {
    const auto found = query.find("unused");
    if (found == query.end() || found->second.empty())
        return std::optional<std::int64_t>();
    auto seconds = keyauth::parse_duration(found->second);
    if (!seconds)
        return make_error(Errc::invalid_argument, "unused: " + seconds.error().message);
    return std::optional<std::int64_t>(*seconds);
}

keyauth::Result<keyauth::SecretString> login_secret(std::string_view body) {
    const keyauth::Error bad =
        make_error(Errc::invalid_argument, "send {\"login\": \"<the secret after #login= in the link>\"}");
    const Json parsed = Json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object() || parsed.size() != 1)
        return bad;
    const auto login = parsed.find("login");
    if (login == parsed.end() || !login->is_string())
        return bad;
    const auto& text = login->get_ref<const WipedString&>();
    return keyauth::SecretString(std::string(text.data(), text.size()));
}

}  // namespace keytool::console
