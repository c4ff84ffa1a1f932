// Issuing and revoking clients: the registry, the CA and a token, together.
#pragma once

#include <cstdint>
#include <functional>
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
};

// A new certificate and token for request.client_id, registered nowhere yet.
Result<IssuedClient> issue_credentials(const CertificateAuthority& authority,
                                       const IssueRequest& request, std::int64_t now);

// Hands the new credentials to deliver() (which writes them out) while the
// registry's write lock is held, and commits only if deliver() succeeds: a
// client is registered exactly when its files exist.
using Delivery = std::function<Status(const IssuedClient&)>;
Status issue_client(LmdbRegistry& registry, const CertificateAuthority& authority,
                    const IssueRequest& request, std::int64_t now, const Delivery& deliver,
                    const std::function<void()>& undeliver);

// Errc::unknown_client if there is no such client.
Status revoke_client(LmdbRegistry& registry, std::string_view client_id);

}  // namespace keyauth
