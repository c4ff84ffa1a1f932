// Issuing and revoking clients: the registry, the CA and a token, together.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "keyauth/lmdb_registry.hpp"
#include "keyauth/result.hpp"
#include "keyauth/token.hpp"
#include "keyauth/x509_authority.hpp"

namespace keyauth {

struct IssuedClient {
    ClientRecord record;
    IssuedCertificate certificate;
    IssuedToken token;
};

struct IssueRequest {
    std::string client_id;
    int days = kDefaultClientDays;
    bool replace = false;  // gen --force
    // keytool rotate --grace: new credentials for an existing client; the
    // ones replaced stay valid this many seconds more (0: none).
    std::optional<std::int64_t> rotate_grace;
};

// The longest grace a rotation may give the credentials it replaces.
inline constexpr std::int64_t kMaxRotationGrace = 366 * 86400;

// The credentials registered for request: fresh ones over replaced (null
// for a new client). A rotation keeps the replaced current credentials until
// min(now + grace, their own end), any older ones dropped; any replacement
// keeps a suspension (only resume lifts it).
ClientCredentials registered_credentials(const IssueRequest& request,
                                         const ClientCredentials& fresh,
                                         const ClientCredentials* replaced, std::int64_t now);

// Checks a request before anything is issued or written.
Status check_issue_request(const IssueRequest& request);

// A new certificate and token for request.client_id, registered nowhere yet.
Result<IssuedClient> issue_credentials(const CertificateAuthority& authority,
                                       const IssueRequest& request, std::int64_t now);

// Hands the new credentials to deliver() (which writes them out) while the
// registry's write lock is held, and commits only if deliver() succeeds: a
// client is registered exactly when its files exist. Errc::not_published:
// registered (the files kept), not yet published to the servers.
using Delivery = std::function<Status(const IssuedClient&)>;
Status issue_client(LmdbRegistry& registry, const CertificateAuthority& authority,
                    const IssueRequest& request, std::int64_t now, const Delivery& deliver,
                    const std::function<void()>& undeliver);

// Errc::unknown_client if there is no such client.
Status revoke_client(LmdbRegistry& registry, std::string_view client_id);

// keytool suspend / resume: the client's record with suspended set as asked,
// credentials untouched. False when it already was (nothing written);
// Errc::unknown_client if there is no such client.
Result<bool> set_client_suspended(LmdbRegistry& registry, std::string_view client_id,
                                  bool suspended);

}  // namespace keyauth
