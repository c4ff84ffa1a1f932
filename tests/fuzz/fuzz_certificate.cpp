// Presented certificates: DER parsing, identity extraction, fingerprinting,
// and the registry check, on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "keyauth/authenticator.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/x509_identity.hpp"

using namespace keyauth_fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    registry();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto parsed = keyauth::parse_certificate_der(as_view(data, size));
    if (!parsed)
        return 0;
    const X509* cert = parsed->get();
    const keyauth::Fingerprint fingerprint = keyauth::fingerprint_of(cert);
    FUZZ_CHECK(keyauth::fingerprint_of(cert) == fingerprint);
    auto identity = keyauth::identity_of(cert);
    if (identity) {
        FUZZ_CHECK(keyauth::is_valid_client_id(identity->common_name));
        FUZZ_CHECK(identity->fingerprint == fingerprint);
    } else {
        FUZZ_CHECK(!identity.error().message.empty());
    }
    // No fuzzed certificate carries a registered fingerprint.
    const keyauth::AuthResult result = keyauth::check_certificate(registry(), cert, kNow);
    FUZZ_CHECK(result.verdict == keyauth::Verdict::unknown_client);
    return 0;
}
