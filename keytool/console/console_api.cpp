#include "console_api.hpp"

#include <sodium.h>

#include <charconv>
#include <ctime>

#include <nlohmann/json.hpp>

#include "../client_bundle.hpp"
#include "../commands.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/client_listing.hpp"
#include "keyauth/duration.hpp"
#include "keyauth/files.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/provisioning.hpp"

namespace keytool::console {
namespace {

using keyauth::Errc;
using keyauth::make_error;

constexpr std::int64_t kSecondsPerDay = 86400;

// A whole number in [low, high], or nothing.
std::optional<std::size_t> whole_number(const QueryParams& query, std::string_view name,
                                        std::size_t fallback, std::size_t low, std::size_t high,
                                        std::string& problem) {
    const auto found = query.find(name);
    if (found == query.end())
        return fallback;
    const std::string& text = found->second;
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
        problem = std::string(name) + " must be a whole number from " + std::to_string(low) +
                  " to " + std::to_string(high);
        return std::nullopt;
    }
    return value;
}

keyauth::Result<keyauth::ListingQuery> listing_query(const QueryParams& query, std::int64_t now) {
    keyauth::ListingQuery listing;
    std::string problem;
    const auto offset = whole_number(query, "offset", 0, 0, 100000000, problem);
    const auto limit = whole_number(query, "limit", 50, 1, keyauth::kMaxPageSize, problem);
    if (!offset || !limit)
        return make_error(Errc::invalid_argument, problem);
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

// "YYYY-MM-DD" (UTC) to whole days from today; the core checks the range.
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

// The body of POST /api/v1/clients: nothing but the fields it documents.
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
        } else if (name == "days" && value.is_number_integer() && !has_validity) {
            const auto days = value.get<std::int64_t>();
            if (days < 1 || days > keyauth::kMaxDays) {
                return make_error(Errc::invalid_argument, "days must be a whole number from 1 to " +
                                                              std::to_string(keyauth::kMaxDays));
            }
            request.days = static_cast<int>(days);
            has_validity = true;
        } else if (name == "expire" && value.is_string() && !has_validity) {
            auto days = days_until(value.get<std::string>(), now);
            if (!days)
                return days.error();
            request.days = *days;
            has_validity = true;
        } else if (name == "force" && value.is_boolean()) {
            request.replace = value.get<bool>();
        } else if (name == "days" || name == "expire") {
            return make_error(Errc::invalid_argument,
                              "give days (a whole number) or expire (YYYY-MM-DD), not both");
        } else {
            return make_error(Errc::invalid_argument, "unexpected field " + json_string(name) +
                                                          " (id, days, expire, force)");
        }
    }
    if (!has_id)
        return make_error(Errc::invalid_argument, "id is required");
    if (keyauth::Status s = keyauth::check_client_id(request.client_id); !s)
        return s.error();
    return request;
}

std::string base64(std::string_view bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.pop_back();  // the terminating NUL
    return out;
}

// The three files once, as JSON, with the zip for the page's download button.
keyauth::SecretString issued_json(const keyauth::IssuedClient& issued) {
    const BundleNames names = default_bundle_names(issued.record.id);
    const keyauth::SecretString bundle = make_client_bundle(issued, names);
    const keyauth::SecretString token_file = token_file_contents(issued);
    const keyauth::SecretString zip64(base64(bundle.view()));
    const keyauth::SecretString key =
        keyauth::SecretString(json_string(issued.certificate.private_key_pem.view()));
    const keyauth::SecretString token(json_string(token_file.view()));
    std::string out;
    out.reserve(key.view().size() + zip64.view().size() + 4096);
    out += "{\"id\":" + json_string(issued.record.id) + ",\"state\":\"active\",";
    out += json_credential_fields(issued.record.credentials);
    out += ",\"files\":[{\"name\":" + json_string(names.certificate) + ",\"mode\":\"0644\"";
    out += ",\"contents\":" + json_string(issued.certificate.certificate_pem) + "}";
    out += ",{\"name\":" + json_string(names.private_key) + ",\"mode\":\"0600\",\"contents\":";
    out += key.view();
    out += "},{\"name\":" + json_string(names.token) + ",\"mode\":\"0600\",\"contents\":";
    out += token.view();
    out += "}],\"zip\":{\"name\":" + json_string(issued.record.id + ".zip") + ",\"base64\":\"";
    out += zip64.view();
    out += "\"}}";
    return keyauth::SecretString(std::move(out));
}

}  // namespace

HttpResponse json_response(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.body = keyauth::SecretString(std::move(body));
    return response;
}

HttpResponse error_response(int status, const std::string& message) {
    return json_response(status, "{\"error\":" + json_string(message) + "}");
}

HttpResponse error_response(const keyauth::Error& error) {
    switch (error.code) {
        case Errc::invalid_argument:
            return error_response(400, error.message);
        case Errc::unknown_client:
            return error_response(404, error.message);
        case Errc::already_exists:
            return error_response(409, error.message);
        default:
            return error_response(500, error.message);
    }
}

HttpResponse ConsoleApi::list_clients(const QueryParams& query, std::int64_t now) const {
    auto listing = listing_query(query, now);
    if (!listing)
        return error_response(listing.error());
    auto registry = keyauth::open_registry_to_read(registry_.dir);
    if (!registry)
        return error_response(registry.error());
    auto page = keyauth::list_clients_page(**registry, *listing);
    if (!page)
        return error_response(page.error());
    std::string out = "{\"total\":" + std::to_string(page->total) +
                      ",\"offset\":" + std::to_string(listing->offset) +
                      ",\"limit\":" + std::to_string(listing->limit) +
                      ",\"now\":" + std::to_string(now) + ",\"clients\":[";
    for (std::size_t i = 0; i < page->records.size(); ++i) {
        if (i != 0)
            out += ',';
        out += json_client(page->records[i].id, page->records[i].credentials, now);
    }
    return json_response(200, out + "]}");
}

HttpResponse ConsoleApi::show_client(std::string_view id, std::int64_t now) const {
    if (keyauth::Status s = keyauth::check_client_id(id); !s)
        return error_response(s.error());
    auto registry = keyauth::open_registry_to_read(registry_.dir);
    if (!registry)
        return error_response(registry.error());
    keyauth::ClientCredentials credentials;
    if (keyauth::Status s = (*registry)->find(id, credentials); !s)
        return error_response(s.error());
    return json_response(200, json_client(id, credentials, now));
}

HttpResponse ConsoleApi::create_client(std::string_view body, bool as_zip, std::int64_t now) const {
    auto request = issue_request(body, now);
    if (!request)
        return error_response(request.error());
    auto authority = keyauth::load_authority(registry_);
    if (!authority)
        return error_response(authority.error());
    auto registry = keyauth::LmdbRegistry::open(registry_.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return error_response(registry.error());
    HttpResponse response;
    // Built while the write lock is held; dropped if the commit fails.
    auto deliver = [&](const keyauth::IssuedClient& issued) -> keyauth::Status {
        response.status = 201;
        if (as_zip) {
            response.content_type = "application/zip";
            response.headers.emplace_back("Content-Disposition",
                                          "attachment; filename=\"" + issued.record.id + ".zip\"");
            response.body = make_client_bundle(issued, default_bundle_names(issued.record.id));
        } else {
            response.body = issued_json(issued);
        }
        return {};
    };
    auto undeliver = [&] { response = HttpResponse(); };
    if (keyauth::Status s =
            keyauth::issue_client(**registry, *authority, *request, now, deliver, undeliver);
        !s) {
        return error_response(s.error());
    }
    return response;
}

HttpResponse ConsoleApi::delete_client(std::string_view id) const {
    if (keyauth::Status s = keyauth::check_client_id(id); !s)
        return error_response(s.error());
    auto registry = keyauth::LmdbRegistry::open(registry_.dir, keyauth::OpenMode::read_write);
    if (!registry)
        return error_response(registry.error());
    if (keyauth::Status s = keyauth::revoke_client(**registry, id); !s)
        return error_response(s.error());
    return json_response(200, "{\"id\":" + json_string(id) + ",\"deleted\":true}");
}

HttpResponse ConsoleApi::ca_certificate() const {
    auto pem = keyauth::read_small_file(registry_.ca_cert());
    if (!pem)
        return error_response(pem.error());
    HttpResponse response = json_response(200, std::move(*pem));
    response.content_type = "application/x-pem-file";
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"ca_cert.pem\"");
    return response;
}

HttpResponse ConsoleApi::expiry_calendar(const QueryParams& query, std::int64_t now) const {
    std::string problem;
    const auto months = whole_number(query, "months", 12, 1, keyauth::kMaxCalendarMonths, problem);
    if (!months)
        return error_response(400, problem);
    auto registry = keyauth::open_registry_to_read(registry_.dir);
    if (!registry)
        return error_response(registry.error());
    auto calendar = keyauth::expiry_calendar(**registry, now, static_cast<int>(*months));
    if (!calendar)
        return error_response(calendar.error());
    std::string out = "{\"expired\":" + std::to_string(calendar->expired) +
                      ",\"later\":" + std::to_string(calendar->later) + ",\"months\":[";
    for (std::size_t i = 0; i < calendar->months.size(); ++i) {
        const auto& month = calendar->months[i];
        char label[16];
        std::snprintf(label, sizeof label, "%04d-%02d", month.year, month.month);
        out += (i == 0 ? "{\"month\":\"" : ",{\"month\":\"") + std::string(label) +
               "\",\"count\":" + std::to_string(month.count) + "}";
    }
    return json_response(200, out + "]}");
}

}  // namespace keytool::console
