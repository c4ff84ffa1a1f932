// X.509: the CA, the client and server profiles, and reading the
// identity out of a presented certificate (hostile ones built by hand).
#include "unit_test.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <optional>
#include <utility>
#include <vector>

#include "keyauth/x509_authority.hpp"

using keyauth::CertificateAuthority;
using keyauth::Errc;
using keyauth::IssuedCertificate;
using keyauth::X509Ptr;

namespace {

constexpr std::int64_t kNow = 1675561518;  // 2023-02-05 01:55:18 UTC

X509Ptr parse(const std::string& pem) {
    auto parsed = keyauth::parse_certificate_pem(pem);
    return parsed ? std::move(*parsed) : nullptr;
}

std::string common_name(const X509* cert) {
    char buffer[256] = {};
    const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buffer,
                                            sizeof buffer);
    return n < 0 ? std::string("<none>") : std::string(buffer, static_cast<std::size_t>(n));
}

std::int64_t unix_time(const ASN1_TIME* time) {
    std::tm tm{};
    ASN1_TIME_to_tm(time, &tm);
    return static_cast<std::int64_t>(timegm(&tm));
}

// X509_verify_cert against the CA alone, at a given time, for a purpose.
int verify_against(const X509* ca, X509* cert, std::int64_t at, int purpose) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, const_cast<X509*>(ca));
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, cert, nullptr);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at));
    X509_VERIFY_PARAM_set_purpose(param, purpose);
    const int ok = X509_verify_cert(ctx);
    const int error = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok == 1 ? X509_V_OK : (error == X509_V_OK ? -1 : error);
}

struct Fixture {
    std::optional<CertificateAuthority> ca;
    X509Ptr ca_cert;

    Fixture() {
        auto created = CertificateAuthority::create("keyauth test CA", 3650, kNow);
        if (!created)
            return;
        ca.emplace(std::move(*created));
        ca_cert = parse(ca->certificate_pem());
    }
    bool ready() const { return ca_cert != nullptr; }
};

Fixture& fixture(void** state) {
    return fixture_of<Fixture>(state);
}

void ca_is_a_self_signed_ca(void** state) {
    const X509* ca = fixture(state).ca_cert.get();
    assert_sv_equal(common_name(ca), "keyauth test CA");
    BASIC_CONSTRAINTS* bc = static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(ca, NID_basic_constraints, nullptr, nullptr));
    assert_non_null(bc);
    assert_true(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_get_key_usage(const_cast<X509*>(ca)), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_check_issued(const_cast<X509*>(ca), const_cast<X509*>(ca)), X509_V_OK);
    assert_int_equal(unix_time(X509_get0_notBefore(ca)), kNow);
    assert_int_equal(unix_time(X509_get0_notAfter(ca)), kNow + 3650 * 86400LL);
}

void ca_survives_a_pem_round_trip(void** state) {
    // The key PEM parses and matches the certificate.
    const keyauth::SecretString key_pem = fixture(state).ca->private_key_pem();
    BIO* bio = BIO_new_mem_buf(key_pem.view().data(), static_cast<int>(key_pem.view().size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    assert_non_null(key);
    assert_int_equal(X509_check_private_key(fixture(state).ca_cert.get(), key), 1);
    EVP_PKEY_free(key);
}

void client_certificate_follows_the_profile(void** state) {
    auto issued = fixture(state).ca->issue_client("myapp01", 1095, kNow);
    assert_ok(issued);
    X509Ptr cert = parse(issued->certificate_pem);
    assert_non_null(cert.get());
    X509* c = cert.get();

    assert_sv_equal(common_name(c), "myapp01");
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(c)), 1);
    assert_int_equal(X509_get_version(c), X509_VERSION_3);

    BASIC_CONSTRAINTS* bc = static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(c, NID_basic_constraints, nullptr, nullptr));
    assert_non_null(bc);
    assert_false(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_get_key_usage(c), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(c), XKU_SSL_CLIENT);
    // Both constraints are critical.
    assert_int_equal(X509_EXTENSION_get_critical(
                         X509_get_ext(c, X509_get_ext_by_NID(c, NID_basic_constraints, -1))),
                     1);
    assert_int_equal(
        X509_EXTENSION_get_critical(X509_get_ext(c, X509_get_ext_by_NID(c, NID_key_usage, -1))), 1);

    // Validity: exactly the days asked for, from now.
    assert_int_equal(unix_time(X509_get0_notBefore(c)), kNow);
    assert_int_equal(unix_time(X509_get0_notAfter(c)), kNow + 1095 * 86400LL);
    assert_int_equal(issued->validity.not_before, kNow);
    assert_int_equal(issued->validity.not_after, kNow + 1095 * 86400LL);

    // ECDSA P-256.
    EVP_PKEY* pub = X509_get0_pubkey(c);
    assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    char group[64] = {};
    size_t group_len = 0;
    assert_int_equal(EVP_PKEY_get_group_name(pub, group, sizeof group, &group_len), 1);
    assert_string_equal(group, "prime256v1");
}

void client_serial_has_at_least_128_bits_and_is_recorded(void** state) {
    auto first = fixture(state).ca->issue_client("a", 1, kNow);
    auto second = fixture(state).ca->issue_client("a", 1, kNow);
    assert_ok(first);
    assert_ok(second);
    X509Ptr cert = parse(first->certificate_pem);
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_true(BN_num_bits(bn) >= 128);
    unsigned char bytes[32] = {};
    const int length = BN_bn2bin(bn, bytes);
    BN_free(bn);
    assert_int_equal(length, first->serial.length);
    assert_memory_equal(bytes, first->serial.bytes.data(), first->serial.length);
    assert_false(first->serial.hex() == second->serial.hex());
}

void client_certificate_verifies_against_the_ca(void** state) {
    auto issued = fixture(state).ca->issue_client("myapp01", 10, kNow);
    assert_ok(issued);
    X509Ptr cert = parse(issued->certificate_pem);
    const X509* ca = fixture(state).ca_cert.get();
    assert_int_equal(verify_against(ca, cert.get(), kNow + 60, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    assert_int_equal(verify_against(ca, cert.get(), kNow + 11 * 86400, X509_PURPOSE_SSL_CLIENT),
                     X509_V_ERR_CERT_HAS_EXPIRED);
    assert_int_equal(verify_against(ca, cert.get(), kNow - 60, X509_PURPOSE_SSL_CLIENT),
                     X509_V_ERR_CERT_NOT_YET_VALID);
    // clientAuth only: not usable as a server certificate.
    assert_int_equal(verify_against(ca, cert.get(), kNow + 60, X509_PURPOSE_SSL_SERVER),
                     X509_V_ERR_INVALID_PURPOSE);
    // Nor against another CA.
    auto other = CertificateAuthority::create("other CA", 10, kNow);
    assert_ok(other);
    X509Ptr other_cert = parse(other->certificate_pem());
    assert_int_not_equal(
        verify_against(other_cert.get(), cert.get(), kNow + 60, X509_PURPOSE_SSL_CLIENT),
        X509_V_OK);
}

void client_key_matches_certificate(void** state) {
    auto issued = fixture(state).ca->issue_client("myapp01", 10, kNow);
    assert_ok(issued);
    X509Ptr cert = parse(issued->certificate_pem);
    const std::string_view pem = issued->private_key_pem.view();
    assert_true(pem.substr(0, 27) == "-----BEGIN PRIVATE KEY-----");
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    assert_non_null(key);
    assert_int_equal(X509_check_private_key(cert.get(), key), 1);
    // And not the key of another issue.
    auto other = fixture(state).ca->issue_client("myapp01", 10, kNow);
    X509Ptr other_cert = parse(other->certificate_pem);
    assert_int_equal(X509_check_private_key(other_cert.get(), key), 0);
    ERR_clear_error();
    EVP_PKEY_free(key);
}

void fingerprint_is_sha256_of_der(void** state) {
    auto issued = fixture(state).ca->issue_client("myapp01", 10, kNow);
    X509Ptr cert = parse(issued->certificate_pem);
    unsigned char* der = nullptr;
    const int der_len = i2d_X509(cert.get(), &der);
    assert_true(der_len > 0);
    unsigned char digest[32];
    unsigned int digest_len = 0;
    EVP_Digest(der, static_cast<size_t>(der_len), digest, &digest_len, EVP_sha256(), nullptr);
    OPENSSL_free(der);
    assert_int_equal(digest_len, 32);
    assert_memory_equal(keyauth::fingerprint_of(cert.get()).bytes.data(), digest, 32);
    assert_memory_equal(issued->fingerprint.bytes.data(), digest, 32);
}

void days_out_of_range_are_refused(void** state) {
    for (int days : {0, -1, keyauth::kMaxDays + 1}) {
        auto issued = fixture(state).ca->issue_client("myapp01", days, kNow);
        assert_false(issued.ok());
        assert_int_equal(static_cast<int>(issued.error().code),
                         static_cast<int>(Errc::invalid_argument));
    }
    assert_ok(fixture(state).ca->issue_client("myapp01", keyauth::kMaxDays, kNow));
}

// The id is the CN: an id that is not valid never reaches a certificate
// (a NUL would otherwise cut "a\0b" down to another client's "a").
void issue_client_refuses_invalid_ids(void** state) {
    for (const std::string& bad : {std::string("a\0b", 3), std::string("a/b"), std::string(""),
                                   std::string(65, 'a'), std::string("a..b")}) {
        auto issued = fixture(state).ca->issue_client(bad, 10, kNow);
        assert_false(issued.ok());
        assert_int_equal(static_cast<int>(issued.error().code),
                         static_cast<int>(Errc::invalid_argument));
    }
}

// --- server ------------------------------------------------------------

int san_count(X509* cert, int type) {
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    int count = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        if (sk_GENERAL_NAME_value(names, i)->type == type)
            ++count;
    }
    GENERAL_NAMES_free(names);
    return count;
}

void server_certificate_carries_hosts_as_sans(void** state) {
    auto issued = fixture(state).ca->issue_server(
        {"broker.example.com", "localhost", "127.0.0.1", "::1", "10.1.2.3"}, 30, kNow);
    assert_ok(issued);
    X509Ptr cert = parse(issued->certificate_pem);
    X509* c = cert.get();
    assert_sv_equal(common_name(c), "broker.example.com");
    assert_int_equal(san_count(c, GEN_DNS), 2);
    assert_int_equal(san_count(c, GEN_IPADD), 3);
    assert_int_equal(X509_check_host(c, "broker.example.com", 0, 0, nullptr), 1);
    assert_int_equal(X509_check_host(c, "localhost", 0, 0, nullptr), 1);
    assert_int_equal(X509_check_host(c, "other.example.com", 0, 0, nullptr), 0);
    assert_int_equal(X509_check_ip_asc(c, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(c, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(c, "10.1.2.3", 0), 1);
    assert_int_equal(X509_check_ip_asc(c, "10.1.2.4", 0), 0);
    assert_int_equal(X509_get_extended_key_usage(c), XKU_SSL_SERVER);
    assert_int_equal(
        verify_against(fixture(state).ca_cert.get(), c, kNow + 60, X509_PURPOSE_SSL_SERVER),
        X509_V_OK);
}

void server_refuses_bad_hosts(void** state) {
    auto none = fixture(state).ca->issue_server({}, 30, kNow);
    assert_false(none.ok());
    assert_int_equal(static_cast<int>(none.error().code), static_cast<int>(Errc::invalid_argument));
    for (const char* bad : {"a b", "a,DNS:evil.com", "", "x/y", "a..b"}) {
        auto issued = fixture(state).ca->issue_server({"localhost", bad}, 30, kNow);
        assert_false(issued.ok());
        assert_int_equal(static_cast<int>(issued.error().code),
                         static_cast<int>(Errc::invalid_argument));
    }
}

void check_host_name_rules(void**) {
    for (const char* good : {"localhost", "127.0.0.1", "::1", "fe80::1", "a.b-c.example",
                             "*.example.com", "EXAMPLE.com", "1.2.3"}) {
        assert_ok(keyauth::check_host_name(good));
    }
    for (const std::string& bad : {std::string(""),
                                   std::string("a b"),
                                   std::string("a..b"),
                                   std::string(".a"),
                                   std::string("a."),
                                   std::string("a,DNS:evil"),
                                   std::string("a/b"),
                                   std::string("a:b"),
                                   std::string("x*.example.com"),
                                   std::string("*.com"),
                                   std::string("*"),
                                   std::string("caf\xc3\xa9"),
                                   std::string(254, 'a'),
                                   std::string("a\0b", 3),
                                   std::string("127.0.0.1\0evil", 14),
                                   std::string("::1\0x", 5),
                                   std::string("*"),
                                   std::string("*foo"),
                                   std::string("-"),
                                   std::string(64, 'a') + ".example.com"}) {
        assert_code(keyauth::check_host_name(bad), Errc::invalid_argument);
    }
    // 253 characters, every label at most 63.
    const std::string label(63, 'a');
    assert_ok(
        keyauth::check_host_name(label + "." + label + "." + label + "." + std::string(61, 'a')));
}

// --- identity_of --------------------------------------------------------

// A self-signed certificate whose subject holds exactly these entries, each
// an (nid, ASN.1 string type, raw bytes) triple.
struct NameEntry {
    int nid;
    int type;
    std::string bytes;
};

X509Ptr hand_made(const std::vector<NameEntry>& subject) {
    keyauth::EvpPkeyPtr key(EVP_EC_gen("P-256"));
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(kNow));
    ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(kNow + 86400));
    X509_NAME* name = X509_get_subject_name(cert.get());
    for (const NameEntry& entry : subject) {
        if (X509_NAME_add_entry_by_NID(name, entry.nid, entry.type,
                                       reinterpret_cast<const unsigned char*>(entry.bytes.data()),
                                       static_cast<int>(entry.bytes.size()), -1, 0) != 1) {
            return nullptr;
        }
    }
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key.get());
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
        return nullptr;
    return cert;
}

void assert_identity_refused(const std::vector<NameEntry>& subject, std::string_view message) {
    X509Ptr cert = hand_made(subject);
    assert_non_null(cert.get());
    auto identity = keyauth::identity_of(cert.get());
    assert_false(identity.ok());
    assert_int_equal(static_cast<int>(identity.error().code),
                     static_cast<int>(Errc::invalid_argument));
    assert_sv_equal(identity.error().message, message);
}

void identity_of_issued_certificate(void** state) {
    auto issued = fixture(state).ca->issue_client("myapp01", 10, kNow);
    X509Ptr cert = parse(issued->certificate_pem);
    auto identity = keyauth::identity_of(cert.get());
    assert_ok(identity);
    assert_sv_equal(identity->common_name, "myapp01");
    assert_true(identity->fingerprint == issued->fingerprint);
    assert_int_equal(identity->validity.not_before, kNow);
    assert_int_equal(identity->validity.not_after, kNow + 10 * 86400);
}

void identity_of_hand_made_good_certificate(void**) {
    X509Ptr cert = hand_made({{NID_organizationName, V_ASN1_UTF8STRING, "Example"},
                              {NID_commonName, V_ASN1_UTF8STRING, "myapp01"}});
    auto identity = keyauth::identity_of(cert.get());
    assert_ok(identity);
    assert_sv_equal(identity->common_name, "myapp01");
    assert_true(identity->fingerprint == keyauth::fingerprint_of(cert.get()));
    assert_int_equal(identity->validity.not_after, kNow + 86400);
}

void identity_refuses_cn_with_embedded_nul(void**) {
    // "myapp01\0.evil": a C-string reader would see "myapp01".
    assert_identity_refused(
        {{NID_commonName, V_ASN1_UTF8STRING, std::string("myapp01\0.evil", 13)}},
        "certificate common name is not a client id");
    assert_identity_refused({{NID_commonName, V_ASN1_IA5STRING, std::string("myapp01\0", 8)}},
                            "certificate common name is not a client id");
}

void identity_refuses_missing_cn(void**) {
    assert_identity_refused({{NID_organizationName, V_ASN1_UTF8STRING, "myapp01"}},
                            "certificate has no common name");
    assert_identity_refused({}, "certificate has no common name");
}

void identity_refuses_two_cns(void**) {
    assert_identity_refused({{NID_commonName, V_ASN1_UTF8STRING, "myapp01"},
                             {NID_commonName, V_ASN1_UTF8STRING, "admin"}},
                            "certificate has several common names");
    assert_identity_refused({{NID_commonName, V_ASN1_UTF8STRING, "myapp01"},
                             {NID_commonName, V_ASN1_UTF8STRING, "myapp01"}},
                            "certificate has several common names");
}

void identity_refuses_cn_outside_the_id_alphabet(void**) {
    for (const char* bad : {"my app", "a/b", "a..b", ".x", "caf\xc3\xa9", "+", "#"}) {
        assert_identity_refused({{NID_commonName, V_ASN1_UTF8STRING, bad}},
                                "certificate common name is not a client id");
    }
    assert_identity_refused({{NID_commonName, V_ASN1_UTF8STRING, std::string(65, 'a')}},
                            "certificate common name is not a client id");
    // UCS-2 "ab": its bytes hold NULs, refused rather than reinterpreted.
    assert_identity_refused({{NID_commonName, V_ASN1_BMPSTRING, std::string("\0a\0b", 4)}},
                            "certificate common name is not a client id");
}

void identity_refuses_empty_cn_and_null(void**) {
    assert_identity_refused({{NID_commonName, V_ASN1_UTF8STRING, ""}},
                            "certificate has an empty common name");
    auto none = keyauth::identity_of(nullptr);
    assert_false(none.ok());
    assert_sv_equal(none.error().message, "no certificate");
}

// --- parsing ------------------------------------------------------------

std::string der_of(X509* cert) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    std::string bytes(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return bytes;
}

void der_parsing_is_exact(void** state) {
    const std::string der = der_of(fixture(state).ca_cert.get());
    auto parsed = keyauth::parse_certificate_der(der);
    assert_ok(parsed);
    assert_true(keyauth::fingerprint_of(parsed->get()) ==
                keyauth::fingerprint_of(fixture(state).ca_cert.get()));
    auto with_byte = keyauth::parse_certificate_der(der + std::string(1, '\0'));
    assert_false(with_byte.ok());
    assert_sv_equal(with_byte.error().message, "trailing bytes after certificate");
    assert_false(keyauth::parse_certificate_der(der.substr(0, der.size() - 1)).ok());
    assert_false(keyauth::parse_certificate_der("").ok());
    assert_false(keyauth::parse_certificate_der(std::string(1000, '\x30')).ok());
}

void pem_parsing_refuses_garbage(void**) {
    assert_false(keyauth::parse_certificate_pem("").ok());
    assert_false(keyauth::parse_certificate_pem("-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                "-----END CERTIFICATE-----\n")
                     .ok());
    auto garbage = keyauth::parse_certificate_pem("not a certificate");
    assert_false(garbage.ok());
    assert_int_equal(static_cast<int>(garbage.error().code), static_cast<int>(Errc::crypto_error));
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        unit_test_with(Fixture, ca_is_a_self_signed_ca),
        unit_test_with(Fixture, ca_survives_a_pem_round_trip),
        unit_test_with(Fixture, client_certificate_follows_the_profile),
        unit_test_with(Fixture, client_serial_has_at_least_128_bits_and_is_recorded),
        unit_test_with(Fixture, client_certificate_verifies_against_the_ca),
        unit_test_with(Fixture, client_key_matches_certificate),
        unit_test_with(Fixture, fingerprint_is_sha256_of_der),
        unit_test_with(Fixture, days_out_of_range_are_refused),
        unit_test_with(Fixture, issue_client_refuses_invalid_ids),
        unit_test_with(Fixture, server_certificate_carries_hosts_as_sans),
        unit_test_with(Fixture, server_refuses_bad_hosts),
        cmocka_unit_test(check_host_name_rules),
        unit_test_with(Fixture, identity_of_issued_certificate),
        cmocka_unit_test(identity_of_hand_made_good_certificate),
        cmocka_unit_test(identity_refuses_cn_with_embedded_nul),
        cmocka_unit_test(identity_refuses_missing_cn),
        cmocka_unit_test(identity_refuses_two_cns),
        cmocka_unit_test(identity_refuses_cn_outside_the_id_alphabet),
        cmocka_unit_test(identity_refuses_empty_cn_and_null),
        unit_test_with(Fixture, der_parsing_is_exact),
        cmocka_unit_test(pem_parsing_refuses_garbage),
    };
    return run_group(tests);
}
