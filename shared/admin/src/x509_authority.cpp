// Making certificates: the CA, the server certificate, client certificates.
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "keyauth/client_id.hpp"
#include "keyauth/files.hpp"
#include "keyauth/x509_authority.hpp"
#include "openssl_handles.hpp"

namespace keyauth {
namespace {

constexpr long kSecondsPerDay = 86400;

Result<EvpPkeyPtr> generate_p256_key() {
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    if (!key)
        return openssl_error("generating P-256 key");
    return key;
}

// 20 bytes, positive, no leading zero byte: 158 random bits.
Result<CertificateSerial> random_serial() {
    CertificateSerial serial;
    serial.length = kMaxSerialBytes;
    if (RAND_bytes(serial.bytes.data(), kMaxSerialBytes) != 1) {
        return openssl_error("generating serial");
    }
    serial.bytes[0] = static_cast<std::uint8_t>((serial.bytes[0] & 0x7f) | 0x40);
    return serial;
}

// What every new certificate starts from: its own key and a fresh serial.
struct NewSubject {
    EvpPkeyPtr key;
    CertificateSerial serial;
};

Result<NewSubject> new_subject() {
    auto key = generate_p256_key();
    if (!key)
        return key.error();
    auto serial = random_serial();
    if (!serial)
        return serial.error();
    return NewSubject{std::move(*key), *serial};
}

Status set_serial(X509* cert, const CertificateSerial& serial) {
    BignumPtr bn(BN_bin2bn(serial.bytes.data(), serial.length, nullptr));
    if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
        return openssl_error("setting serial");
    }
    return {};
}

Status add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
    X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        return openssl_error("adding certificate extension");
    }
    return {};
}

struct Profile {
    std::string common_name;
    int days = 0;
    std::vector<std::pair<int, std::string>> extensions;
};

// A certificate for key, issued by (issuer_cert, issuer_key), or self-signed
// when issuer_cert is null.
Result<X509Ptr> make_certificate(const Profile& profile, EVP_PKEY* key, const X509* issuer_cert,
                                 EVP_PKEY* issuer_key, const CertificateSerial& serial,
                                 std::int64_t now) {
    if (Status s = check_validity_days(profile.days); !s)
        return s.error();
    X509Ptr cert(X509_new());
    if (!cert)
        return openssl_error("allocating certificate");
    X509_set_version(cert.get(), X509_VERSION_3);
    if (Status s = set_serial(cert.get(), serial); !s)
        return s.error();
    const auto start = static_cast<time_t>(now);
    if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), start) == nullptr ||
        ASN1_TIME_adj(X509_getm_notAfter(cert.get()), start, profile.days, 0) == nullptr) {
        return openssl_error("setting validity");
    }
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_NID(
            name, NID_commonName, MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(profile.common_name.c_str()), -1, -1, 0) != 1) {
        return openssl_error("setting subject");
    }
    const X509_NAME* issuer_name = issuer_cert ? X509_get_subject_name(issuer_cert) : name;
    if (X509_set_issuer_name(cert.get(), issuer_name) != 1 ||
        X509_set_pubkey(cert.get(), key) != 1) {
        return openssl_error("setting issuer");
    }
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert ? const_cast<X509*>(issuer_cert) : cert.get(), cert.get(),
                   nullptr, nullptr, 0);
    for (const auto& [nid, value] : profile.extensions) {
        if (Status s = add_extension(cert.get(), &ctx, nid, value); !s)
            return s.error();
    }
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
        return openssl_error("signing certificate");
    }
    return cert;
}

std::string certificate_to_pem(const X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    return bio_contents(bio.get());
}

SecretString key_to_pem(EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_secmem()));
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    return SecretString(bio_contents(bio.get()));
}

Result<IssuedCertificate> package(const X509Ptr& cert, EVP_PKEY* key,
                                  const CertificateSerial& serial, std::int64_t now, int days) {
    IssuedCertificate issued;
    issued.certificate_pem = certificate_to_pem(cert.get());
    issued.private_key_pem = key_to_pem(key);
    if (issued.certificate_pem.empty() || issued.private_key_pem.view().empty()) {
        return openssl_error("encoding PEM");
    }
    if (!fingerprint_of(cert.get(), issued.fingerprint)) {
        return openssl_error("fingerprinting certificate");
    }
    issued.serial = serial;
    issued.validity = {now, now + static_cast<std::int64_t>(days) * kSecondsPerDay};
    return issued;
}

std::string subject_alt_names(const std::vector<std::string>& hosts) {
    std::string names;
    for (const std::string& host : hosts) {
        if (!names.empty())
            names += ",";
        names += (is_ip_address(host) ? "IP:" : "DNS:") + host;
    }
    return names;
}

}  // namespace

Status check_validity_days(int days) {
    if (days < 1 || days > kMaxDays) {
        return make_error(Errc::invalid_argument, "a certificate's validity must be 1 to " +
                                                      std::to_string(kMaxDays) + " days, not " +
                                                      std::to_string(days));
    }
    return {};
}

Result<CertificateAuthority> CertificateAuthority::create(std::string_view common_name, int days,
                                                          std::int64_t now) {
    auto subject = new_subject();
    if (!subject)
        return subject.error();
    const Profile profile{std::string(common_name),
                          days,
                          {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                           {NID_key_usage, "critical,keyCertSign,cRLSign"},
                           {NID_subject_key_identifier, "hash"}}};
    EVP_PKEY* key = subject->key.get();
    auto cert = make_certificate(profile, key, nullptr, key, subject->serial, now);
    if (!cert)
        return cert.error();
    return CertificateAuthority(std::move(*cert), std::move(subject->key));
}

Result<CertificateAuthority> CertificateAuthority::load(const std::string& cert_path,
                                                        const std::string& key_path) {
    auto cert_text = read_small_file(cert_path);
    if (!cert_text)
        return cert_text.error();
    auto cert = parse_certificate_pem(*cert_text);
    if (!cert)
        return make_error(Errc::registry_corrupt, cert_path + " is not a certificate");
    auto key_text = read_small_file(key_path);
    if (!key_text)
        return key_text.error();
    SecretString key_pem(std::move(*key_text));
    BioPtr bio = memory_reader(key_pem.view());
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key)
        return make_error(Errc::registry_corrupt, key_path + " is not a private key");
    if (X509_check_private_key(cert->get(), key.get()) != 1) {
        ERR_clear_error();
        return make_error(Errc::registry_corrupt, key_path + " does not match " + cert_path);
    }
    return CertificateAuthority(std::move(*cert), std::move(key));
}

// A new P-256 key and a certificate for it, signed by this CA.
Result<IssuedCertificate> CertificateAuthority::issue_leaf(const std::string& common_name, int days,
                                                           std::int64_t now, std::string_view usage,
                                                           const std::string& alt_names) const {
    auto subject = new_subject();
    if (!subject)
        return subject.error();
    Profile profile{common_name,
                    days,
                    {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, std::string(usage)},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"}}};
    if (!alt_names.empty())
        profile.extensions.emplace_back(NID_subject_alt_name, alt_names);
    auto cert = make_certificate(profile, subject->key.get(), cert_.get(), key_.get(),
                                 subject->serial, now);
    if (!cert)
        return cert.error();
    return package(*cert, subject->key.get(), subject->serial, now, days);
}

Result<IssuedCertificate> CertificateAuthority::issue_client(std::string_view client_id, int days,
                                                             std::int64_t now) const {
    // The CN is the id: one that could be truncated or mistaken is refused.
    if (Status s = check_client_id(client_id); !s)
        return s.error();
    return issue_leaf(std::string(client_id), days, now, "clientAuth", "");
}

Result<IssuedCertificate> CertificateAuthority::issue_server(const std::vector<std::string>& hosts,
                                                             int days, std::int64_t now) const {
    if (hosts.empty())
        return make_error(Errc::invalid_argument, "server needs at least one host");
    for (const std::string& host : hosts) {
        if (Status s = check_host_name(host); !s)
            return s.error();
    }
    return issue_leaf(hosts.front(), days, now, "serverAuth", subject_alt_names(hosts));
}

std::string CertificateAuthority::certificate_pem() const {
    return certificate_to_pem(cert_.get());
}

SecretString CertificateAuthority::private_key_pem() const {
    return key_to_pem(key_.get());
}

}  // namespace keyauth
