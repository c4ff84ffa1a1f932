// What a request to the API asks for, read and checked before any core call:
// each refusal is the 400 the API documents (docs/openapi.yaml), its message
// the one the page shows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "console_http.hpp"
#include "keyauth/client_listing.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/result.hpp"
#include "keyauth/secret.hpp"

namespace keytool::console {

// Query parameter name: a whole number in [low, high], fallback when absent.
keyauth::Result<std::size_t> whole_number(const QueryParams& query, std::string_view name,
                                          std::size_t fallback, std::size_t low, std::size_t high);

// GET /api/v1/clients: offset, limit, q, expiring, sort.
keyauth::Result<keyauth::ListingQuery> listing_query(const QueryParams& query, std::int64_t now);

// "YYYY-MM-DD" (UTC) to whole days from today, within what the core issues.
keyauth::Result<int> days_until(const std::string& date, std::int64_t now);

// The body of POST /api/v1/clients: nothing but the fields it documents.
keyauth::Result<keyauth::IssueRequest> issue_request(std::string_view body, std::int64_t now);

// The body of POST /api/v1/clients/{id}/rotate: {"grace": "DUR", "days": N |
// "expire": "YYYY-MM-DD"}, every field optional (an empty body is {}), as
// keytool rotate takes them: no grace unless given.
keyauth::Result<keyauth::IssueRequest> rotate_request(std::string_view id, std::string_view body,
                                                      std::int64_t now);

// GET /api/v1/clients?state=: active, suspended, expired or "not yet valid".
keyauth::Result<std::optional<keyauth::ClientState>> state_filter(const QueryParams& query);

// GET /api/v1/clients?unused=DUR: as keytool list --unused takes it (90d), in
// seconds; nullopt when absent or empty.
keyauth::Result<std::optional<std::int64_t>> unused_filter(const QueryParams& query);

// The body of POST /api/v1/session: {"login": "<the link's secret>"}.
keyauth::Result<keyauth::SecretString> login_secret(std::string_view body);

// Anything from a request that goes into the log (its method and decoded path):
// printable ASCII as it is, every other byte and " and \ as \xHH, so no
// request can end the line, forge another, or send the terminal escapes.
std::string log_safe(std::string_view text);

}  // namespace keytool::console
