// Reading certificates: fingerprints, identities, parsing.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <ctime>

#include "keyauth/client_id.hpp"
#include "keyauth/x509_identity.hpp"
#include "openssl_handles.hpp"

namespace keyauth {
namespace {

struct EvpMdFree {
    void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};

}  // namespace

bool fingerprint_of(const X509* certificate, Fingerprint& out) noexcept {
    // Fetched once: an implicit fetch on every handshake costs more than the
    // hash. Freed when the plugin or module is unloaded.
    static const std::unique_ptr<EVP_MD, EvpMdFree> sha256(
        EVP_MD_fetch(nullptr, "SHA256", nullptr));
    Fingerprint fingerprint;
    unsigned int length = 0;
    if (certificate == nullptr || !sha256 ||
        X509_digest(certificate, sha256.get(), fingerprint.bytes.data(), &length) != 1 ||
        length != fingerprint.bytes.size()) {
        ERR_clear_error();
        return false;
    }
    out = fingerprint;
    return true;
}

Fingerprint fingerprint_of(const X509* certificate) {
    Fingerprint fingerprint;
    fingerprint_of(certificate, fingerprint);
    return fingerprint;
}

namespace {

bool to_unix_time(const ASN1_TIME* time, std::int64_t& out) {
    std::tm tm{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1)
        return false;
    out = static_cast<std::int64_t>(timegm(&tm));
    return true;
}

}  // namespace

Result<PresentedIdentity> identity_of(const X509* certificate) {
    if (certificate == nullptr)
        return make_error(Errc::invalid_argument, "no certificate");
    const X509_NAME* subject = X509_get_subject_name(certificate);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index < 0)
        return make_error(Errc::invalid_argument, "certificate has no common name");
    if (X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
        return make_error(Errc::invalid_argument, "certificate has several common names");
    }
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn));
    const int length = ASN1_STRING_length(cn);
    if (data == nullptr || length <= 0) {
        return make_error(Errc::invalid_argument, "certificate has an empty common name");
    }
    const std::string_view common_name(data, static_cast<std::size_t>(length));
    // A NUL or any byte outside the id alphabet is refused, never truncated.
    if (!is_valid_client_id(common_name)) {
        return make_error(Errc::invalid_argument, "certificate common name is not a client id");
    }
    PresentedIdentity identity;
    identity.common_name.assign(common_name);
    if (!fingerprint_of(certificate, identity.fingerprint)) {
        return make_error(Errc::invalid_argument, "certificate cannot be fingerprinted");
    }
    if (!to_unix_time(X509_get0_notBefore(certificate), identity.validity.not_before) ||
        !to_unix_time(X509_get0_notAfter(certificate), identity.validity.not_after)) {
        return make_error(Errc::invalid_argument, "certificate validity is unreadable");
    }
    return identity;
}

Result<X509Ptr> parse_certificate_pem(std::string_view pem) {
    BioPtr bio = memory_reader(pem);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert)
        return openssl_error("not a PEM certificate");
    return cert;
}

Result<X509Ptr> parse_certificate_der(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert)
        return openssl_error("not a DER certificate");
    if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
        return make_error(Errc::invalid_argument, "trailing bytes after certificate");
    }
    return cert;
}

}  // namespace keyauth
