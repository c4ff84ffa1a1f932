// A certificate that cannot be digested is refused, never looked up
// (regression: the fingerprint used to fall back to 32 zero bytes).
#include "unit_test.hpp"

#include "keyauth/authenticator.hpp"
#include "keyauth/x509_identity.hpp"

using keyauth::OpenMode;
using keyauth::RegistryWriter;
using keyauth_test::TempRegistry;

namespace {

// shared/src/x509_identity.cpp, fingerprint_of: when X509_digest fails it
// returns 32 zero bytes, and check_certificate looks that up like any other
// fingerprint. A certificate that cannot be digested must be refused as
// malformed, whatever the registry holds (fail closed).
void undigestable_certificate_is_refused_not_looked_up(void**) {
    TempRegistry temp;
    assert_true(keyauth_test::write_registry(temp.path(), [](RegistryWriter& w) {
        // make_credentials(0xff, ...) has the all-zero fingerprint 0xff + 1.
        return keyauth_test::put_client(w, "zero", keyauth_test::make_credentials(0xff, 0, 100));
    }));
    auto reader = temp.open_reader();
    assert_non_null(reader.get());
    keyauth::X509Ptr empty(X509_new());  // i2d fails: nothing to hash
    const keyauth::AuthResult result = keyauth::check_certificate(*reader, empty.get(), 50);
    assert_int_equal(static_cast<int>(result.verdict),
                     static_cast<int>(keyauth::Verdict::malformed));
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(undigestable_certificate_is_refused_not_looked_up),
    };
    return run_group(tests);
}
