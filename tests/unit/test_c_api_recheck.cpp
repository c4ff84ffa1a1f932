// The C facade's block for requests that stay open: the credential digest
// and not_after in an accepted result, the registry's generation, recheck.
#include "unit_test.hpp"

#include <cstring>

#include "keyauth/clock.hpp"
#include "keyauth/keyauth.h"

using keyauth::RegistryWriter;
using keyauth_test::put_client;
using keyauth_test::TempRegistry;
using keyauth_test::token_text;

namespace {

constexpr std::string_view kSecret =
    "00112233445566778899aabbccddeeff0123456789abcdef0f1e2d3c4b5a6978";
constexpr std::string_view kOtherSecret =
    "ffeeddccbbaa99887766554433221100fedcba9876543210f0e1d2c3b4a59687";

struct Fixture {
    TempRegistry temp;
    keyauth_registry_t* registry = nullptr;
    std::int64_t not_after = 0;
    ~Fixture() { keyauth_registry_close(registry); }
};

// tag: a certificate fingerprint of its own per client.
keyauth::ClientCredentials live_with(std::uint8_t tag, std::string_view secret,
                                     std::int64_t not_after) {
    keyauth::ClientCredentials c =
        keyauth_test::make_credentials(tag, keyauth::unix_now() - 10, not_after);
    c.token_hash = keyauth_test::hash_of_hex(secret);
    return c;
}

// A write by another process, as keytool's.
bool write(Fixture& f, const std::function<bool(RegistryWriter&)>& change) {
    return keyauth_test::write_registry_in_child(f.temp.path(), change);
}

int setup(void** state) {
    auto* f = new Fixture;
    *state = f;
    f->not_after = keyauth::unix_now() + 3600;
    char err[256] = {};
    if (!keyauth_test::write_registry(f->temp.path(), [&](RegistryWriter& w) {
            return put_client(w, "myapp01", live_with(1, kSecret, f->not_after)) &&
                   put_client(w, "myapp02", live_with(2, kSecret, f->not_after));
        }))
        return -1;
    return keyauth_registry_open(f->temp.path().c_str(), &f->registry, err, sizeof err);
}

int teardown(void** state) {
    delete static_cast<Fixture*>(*state);
    return 0;
}

keyauth_result_t admitted(Fixture& f, std::string_view id) {
    const std::string header = "Bearer " + token_text(id, kSecret);
    keyauth_request_t request{};
    request.token = KEYAUTH_CHECK_REQUIRED;
    request.authorization = header.data();
    request.authorization_len = header.size();
    keyauth_result_t result;
    std::memset(&result, 0x55, sizeof result);
    keyauth_authenticate(f.registry, &request, &result);
    return result;
}

void accepted_result_carries_digest_and_not_after(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    const keyauth_result_t result = admitted(f, "myapp01");
    assert_int_equal(result.verdict, KEYAUTH_ACCEPTED);
    assert_int_equal(result.not_after, f.not_after);
    assert_int_equal(result.about, KEYAUTH_TOKEN);
    const keyauth::TokenHash hash = keyauth_test::hash_of_hex(kSecret);
    assert_memory_equal(result.credential, hash.bytes.data(), sizeof result.credential);
}

void recheck_holds_while_nothing_changes(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    keyauth_result_t grant = admitted(f, "myapp01");
    const std::uint64_t before = keyauth_registry_generation(f.registry);
    assert_int_equal(keyauth_registry_generation(f.registry), before);
    keyauth_recheck(f.registry, &grant);
    assert_int_equal(grant.verdict, KEYAUTH_ACCEPTED);
    assert_string_equal(grant.client_id, "myapp01");
}

void delete_changes_generation_and_recheck_refuses(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    keyauth_result_t gone = admitted(f, "myapp01");
    keyauth_result_t kept = admitted(f, "myapp02");
    const std::uint64_t before = keyauth_registry_generation(f.registry);
    assert_true(write(f, [](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_int_not_equal(keyauth_registry_generation(f.registry), before);
    keyauth_recheck(f.registry, &gone);
    assert_int_equal(gone.verdict, KEYAUTH_UNKNOWN_CLIENT);
    keyauth_recheck(f.registry, &kept);
    assert_int_equal(kept.verdict, KEYAUTH_ACCEPTED);
}

void reissue_is_a_mismatch_and_a_longer_validity_is_taken(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    keyauth_result_t reissued = admitted(f, "myapp01");
    keyauth_result_t extended = admitted(f, "myapp02");
    const std::int64_t later = f.not_after + 86400;
    assert_true(write(f, [&](RegistryWriter& w) {
        return put_client(w, "myapp01", live_with(3, kOtherSecret, f.not_after), true) &&
               put_client(w, "myapp02", live_with(2, kSecret, later), true);
    }));
    keyauth_recheck(f.registry, &reissued);
    assert_int_equal(reissued.verdict, KEYAUTH_MISMATCH);
    keyauth_recheck(f.registry, &extended);
    assert_int_equal(extended.verdict, KEYAUTH_ACCEPTED);
    assert_int_equal(extended.not_after, later);
}

void expiry_is_seen_by_recheck(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    keyauth_result_t grant = admitted(f, "myapp01");
    assert_true(write(f, [](RegistryWriter& w) {
        return put_client(w, "myapp01", live_with(1, kSecret, keyauth::unix_now() - 1), true);
    }));
    keyauth_recheck(f.registry, &grant);
    assert_int_equal(grant.verdict, KEYAUTH_EXPIRED);
}

void no_registry_fails_closed(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    keyauth_result_t grant = admitted(f, "myapp01");
    keyauth_recheck(nullptr, &grant);
    assert_int_equal(grant.verdict, KEYAUTH_REGISTRY_ERROR);
    assert_int_equal(keyauth_registry_generation(nullptr), ~std::uint64_t{0});
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(accepted_result_carries_digest_and_not_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(recheck_holds_while_nothing_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_changes_generation_and_recheck_refuses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reissue_is_a_mismatch_and_a_longer_validity_is_taken, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expiry_is_seen_by_recheck, setup, teardown),
        cmocka_unit_test_setup_teardown(no_registry_fails_closed, setup, teardown),
    };
    return run_group(tests);
}
