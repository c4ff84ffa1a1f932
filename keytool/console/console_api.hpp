// The JSON API under /api/v1 (docs/openapi.yaml): each handler makes the same
// core calls as the keytool command of the same job.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "console_http.hpp"
#include "console_last_use.hpp"
#include "from_keytool.hpp"
#include "keyauth/audit.hpp"
#include "keyauth/issuance.hpp"
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
    // registry: the CA (its key issues, its certificate is served); store:
    // where the clients are of record (the registry's LMDB, or the fleet's etcd);
    // last_use: the hosts' last-use files (loaded), if serve was given any.
    ConsoleApi(keyauth::RegistryLayout registry, std::unique_ptr<RecordStore> store,
               LastUseRecords last_use = LastUseRecords())
        : registry_(std::move(registry)), store_(std::move(store)), last_use_(std::move(last_use)) {}

    // GET /api/v1/clients?offset=&limit=&q=&sort=&expiring=&state=&unused=
    // With last-use files, each client carries last_use and the answer
    // last_use_errors (the files that could not be read again); with --etcd,
    // stale_hosts too (hosts whose last use may be out of date).
    HttpResponse list_clients(const QueryParams& query, std::int64_t now) const;
    // GET /api/v1/clients/{id}
    HttpResponse show_client(std::string_view id, std::int64_t now) const;
    // POST /api/v1/clients {"id":..., "days":N | "expire":"YYYY-MM-DD", "force":bool}:
    // the certificate, key and token once, as JSON or as gen --zip's bundle.
    HttpResponse create_client(std::string_view body, bool as_zip, std::int64_t now,
                               const ConsoleActor& actor) const;
    // POST /api/v1/clients/{id}/rotate {"grace":"DUR", "days":N | "expire":...}: new
    // credentials answered once as create_client's; the replaced ones kept for the grace.
    HttpResponse rotate_client(std::string_view id, std::string_view body, bool as_zip,
                               std::int64_t now, const ConsoleActor& actor) const;
    // POST /api/v1/clients/{id}/suspend and .../resume: the client's state, and
    // whether this request changed it.
    HttpResponse suspend_client(std::string_view id, bool suspended, std::int64_t now,
                                const ConsoleActor& actor) const;
    // DELETE /api/v1/clients/{id}
    HttpResponse delete_client(std::string_view id, const ConsoleActor& actor) const;
    // GET /api/v1/ca.pem
    HttpResponse ca_certificate() const;
    // GET /api/v1/expiry-calendar?months=N
    HttpResponse expiry_calendar(const QueryParams& query, std::int64_t now) const;

  private:
    HttpResponse issue_audited(keyauth::AuditAction action, std::string_view id,
                               keyauth::Result<keyauth::IssueRequest> request, bool as_zip,
                               std::int64_t now, const ConsoleActor& actor) const;
    keyauth::Status issue(const keyauth::IssueRequest& request, bool as_zip, std::int64_t now,
                          keyauth::AuditEvent& event, HttpResponse& response) const;
    keyauth::AuditEvent change_event(keyauth::AuditAction action, std::string_view id,
                                     const ConsoleActor& actor) const;
    // Audits the change as refused and answers 409 when the store would not
    // keep it (a replica kept by keyauth-sync, without --etcd).
    std::optional<HttpResponse> refuse_unwritable(keyauth::AuditEvent& event,
                                                  std::string_view what) const;
    // The etcd revision of the change, when the store made one.
    void add_revision(keyauth::AuditEvent& event) const;

    // "last_use": ISO-8601 UTC of the latest minute recorded, or null: no record.
    void add_last_use(Json& client, std::string_view id) const;

    keyauth::RegistryLayout registry_;
    std::unique_ptr<RecordStore> store_;
    // Re-read as its files change, by the server's one thread.
    mutable LastUseRecords last_use_;
};

}  // namespace keytool::console
