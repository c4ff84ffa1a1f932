#include "keyauth/issuance.hpp"

#include "keyauth/client_id.hpp"

namespace keyauth {

Result<IssuedClient> issue_credentials(const CertificateAuthority& authority,
                                       const IssueRequest& request, std::int64_t now) {
    if (Status s = check_client_id(request.client_id); !s)
        return s.error();
    if (Status s = check_validity_days(request.days); !s)
        return s.error();
    auto certificate = authority.issue_client(request.client_id, request.days, now);
    if (!certificate)
        return certificate.error();
    IssuedClient issued{ClientRecord{request.client_id, {}}, std::move(*certificate),
                        generate_token(request.client_id)};
    ClientCredentials& credentials = issued.record.credentials;
    credentials.token_hash = issued.token.hash;
    credentials.certificate_fingerprint = issued.certificate.fingerprint;
    credentials.serial = issued.certificate.serial;
    credentials.validity = issued.certificate.validity;
    credentials.issued_at = now;
    return issued;
}

Status issue_client(LmdbRegistry& registry, const CertificateAuthority& authority,
                    const IssueRequest& request, std::int64_t now, const Delivery& deliver,
                    const std::function<void()>& undeliver) {
    if (Status s = check_client_id(request.client_id); !s)
        return s;
    if (Status s = check_validity_days(request.days); !s)
        return s;
    // Held from the existence check to the commit: one writer at a time.
    auto writer = registry.begin_write();
    if (!writer)
        return writer.error();
    ClientCredentials existing;
    const Status found = (*writer)->find(request.client_id, existing);
    if (found.ok() && !request.replace) {
        return make_error(Errc::already_exists, "client " + request.client_id + " already exists");
    }
    if (!found.ok() && found.code() != Errc::unknown_client)
        return found;

    auto issued = issue_credentials(authority, request, now);
    if (!issued)
        return issued.error();
    if (Status s = (*writer)->put(issued->record, request.replace); !s)
        return s;
    if (Status s = deliver(*issued); !s)
        return s;
    if (Status s = (*writer)->commit(); !s) {
        undeliver();
        return s;
    }
    return {};
}

Status revoke_client(LmdbRegistry& registry, std::string_view client_id) {
    if (Status s = check_client_id(client_id); !s)
        return s;
    auto writer = registry.begin_write();
    if (!writer)
        return writer.error();
    if (Status s = (*writer)->erase(client_id); !s)
        return s;
    return (*writer)->commit();
}

}  // namespace keyauth
