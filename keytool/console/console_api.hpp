// The JSON API under /api/v1 (docs/openapi.yaml): each handler makes the same
// core calls as the keytool command of the same job.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "console_http.hpp"
#include "keyauth/audit.hpp"
#include "keyauth/registry.hpp"
#include "keyauth/registry_layout.hpp"

namespace keytool::console {

// Who makes a change through the console, for the audit trail (besides the
// user running keytool serve, which the trail adds).
struct ConsoleActor {
    std::string session;  // ConsoleSessions::label()
    std::string peer;     // the browser's address
};

// Each change handler audits its outcome, made or refused, once.
class ConsoleApi {
  public:
    explicit ConsoleApi(keyauth::RegistryLayout registry) : registry_(std::move(registry)) {}

    // GET /api/v1/clients?offset=&limit=&q=&sort=
    HttpResponse list_clients(const QueryParams& query, std::int64_t now) const;
    // GET /api/v1/clients/{id}
    HttpResponse show_client(std::string_view id, std::int64_t now) const;
    // POST /api/v1/clients {"id":..., "days":N | "expire":"YYYY-MM-DD", "force":bool}:
    // the certificate, key and token once, as JSON or as gen --zip's bundle.
    HttpResponse create_client(std::string_view body, bool as_zip, std::int64_t now,
                               const ConsoleActor& actor) const;
    // DELETE /api/v1/clients/{id}
    HttpResponse delete_client(std::string_view id, const ConsoleActor& actor) const;
    // GET /api/v1/ca.pem
    HttpResponse ca_certificate() const;
    // GET /api/v1/expiry-calendar?months=N
    HttpResponse expiry_calendar(const QueryParams& query, std::int64_t now) const;

  private:
    keyauth::Status issue(std::string_view body, bool as_zip, std::int64_t now,
                          keyauth::AuditEvent& event, HttpResponse& response) const;
    keyauth::Status revoke(std::string_view id) const;

    keyauth::RegistryLayout registry_;
};

}  // namespace keytool::console
