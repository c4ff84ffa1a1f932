// X.509 issuance with OpenSSL 3: the CA, the server certificate and client
// certificates. keytool's alone: the servers only read identities.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "keyauth/client_record.hpp"
#include "keyauth/host_name.hpp"
#include "keyauth/result.hpp"
#include "keyauth/secret.hpp"
#include "keyauth/x509_identity.hpp"

namespace keyauth {

struct EvpPkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

inline constexpr int kDefaultClientDays = 1095;
inline constexpr int kDefaultCaDays = 3650;
inline constexpr int kMaxDays = 36500;

// The one rule for a certificate's validity: 1 to kMaxDays days.
Status check_validity_days(int days);

// A freshly made key and certificate, as PEM.
struct IssuedCertificate {
    std::string certificate_pem;
    SecretString private_key_pem;
    Fingerprint fingerprint;
    CertificateSerial serial;
    ValidityWindow validity;
};

class CertificateAuthority {
  public:
    static Result<CertificateAuthority> create(std::string_view common_name, int days,
                                               std::int64_t now);
    static Result<CertificateAuthority> load(const std::string& cert_path,
                                             const std::string& key_path);

    // ECDSA P-256, CN = id, 128+ random serial bits, CA:FALSE,
    // digitalSignature, clientAuth.
    Result<IssuedCertificate> issue_client(std::string_view client_id, int days,
                                           std::int64_t now) const;
    // serverAuth, with each host (DNS name or IP address) as a subjectAltName.
    Result<IssuedCertificate> issue_server(const std::vector<std::string>& hosts, int days,
                                           std::int64_t now) const;

    std::string certificate_pem() const;
    SecretString private_key_pem() const;

  private:
    Result<IssuedCertificate> issue_leaf(const std::string& common_name, int days, std::int64_t now,
                                         std::string_view usage,
                                         const std::string& alt_names) const;

    CertificateAuthority(X509Ptr cert, EvpPkeyPtr key)
        : cert_(std::move(cert)), key_(std::move(key)) {}
    X509Ptr cert_;
    EvpPkeyPtr key_;
};

}  // namespace keyauth
