// X.509 as the servers read it: the identity a presented certificate
// claims (its CN, fingerprint and validity). Issuing is the CA's
// (x509_authority.hpp), which the servers do not link.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// SHA-256 of the DER encoding; false (and out untouched) if it cannot be had.
bool fingerprint_of(const X509* certificate, Fingerprint& out) noexcept;
// As above, all zero bytes on failure: for certificates we made ourselves.
Fingerprint fingerprint_of(const X509* certificate);

// What a presented certificate claims: its CN (refused if absent, repeated,
// or holding a NUL), fingerprint and validity.
struct PresentedIdentity {
    std::string common_name;
    Fingerprint fingerprint;
    ValidityWindow validity;
};
Result<PresentedIdentity> identity_of(const X509* certificate);
Result<X509Ptr> parse_certificate_pem(std::string_view pem);
Result<X509Ptr> parse_certificate_der(std::string_view der);

}  // namespace keyauth
