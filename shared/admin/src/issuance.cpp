#include "keyauth/issuance.hpp"

#include <algorithm>

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

ClientCredentials registered_credentials(const IssueRequest& request,
                                         const ClientCredentials& fresh,
                                         const ClientCredentials* replaced, std::int64_t now) {
    ClientCredentials out = fresh;
    out.previous = {};
    if (replaced == nullptr)
        return out;
    out.suspended = replaced->suspended;
    if (!request.rotate_grace)
        return out;
    const std::int64_t grace = *request.rotate_grace;
    const std::int64_t until = std::min(now + grace, replaced->validity.not_after);
    if (grace > 0 && until >= now) {
        out.previous.token_hash = replaced->token_hash;
        out.previous.certificate_fingerprint = replaced->certificate_fingerprint;
        out.previous.valid_until = until;
    }
    return out;
}

Status check_issue_request(const IssueRequest& request) {
    if (Status s = check_client_id(request.client_id); !s)
        return s;
    if (Status s = check_validity_days(request.days); !s)
        return s;
    if (request.rotate_grace &&
        (*request.rotate_grace < 0 || *request.rotate_grace > kMaxRotationGrace)) {
        return make_error(Errc::invalid_argument, "the grace must be between 0 and 366 days");
    }
    return {};
}

Status issue_client(LmdbRegistry& registry, const CertificateAuthority& authority,
                    const IssueRequest& request, std::int64_t now, const Delivery& deliver,
                    const std::function<void()>& undeliver) {
    if (Status s = check_issue_request(request); !s)
        return s;
    // Held from the existence check to the commit: one writer at a time.
    auto writer = registry.begin_write();
    if (!writer)
        return writer.error();
    ClientCredentials existing;
    const Status found = (*writer)->find(request.client_id, existing);
    if (found.ok() && !request.replace && !request.rotate_grace) {
        return make_error(Errc::already_exists, "client " + request.client_id + " already exists");
    }
    if (!found.ok() && (found.code() != Errc::unknown_client || request.rotate_grace))
        return found;

    auto issued = issue_credentials(authority, request, now);
    if (!issued)
        return issued.error();
    issued->record.credentials = registered_credentials(
        request, issued->record.credentials, found.ok() ? &existing : nullptr, now);
    if (Status s = (*writer)->put(issued->record, found.ok()); !s)
        return s;
    if (Status s = deliver(*issued); !s)
        return s;
    if (Status s = (*writer)->commit(); !s) {
        // Not published yet, but registered: the files are the client's.
        if (s.code() != Errc::not_published)
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

Result<bool> set_client_suspended(LmdbRegistry& registry, std::string_view client_id,
                                  bool suspended) {
    if (Status s = check_client_id(client_id); !s)
        return s.error();
    auto writer = registry.begin_write();
    if (!writer)
        return writer.error();
    ClientRecord record{std::string(client_id), {}};
    if (Status s = (*writer)->find(client_id, record.credentials); !s)
        return s.error();
    if (record.credentials.suspended == suspended)
        return false;
    record.credentials.suspended = suspended;
    if (Status s = (*writer)->put(record, true); !s)
        return s.error();
    if (Status s = (*writer)->commit(); !s)
        return s.error();
    return true;
}

}  // namespace keyauth
