// The C facade's block for requests that stay open: the credential digest
// and not_after in an accepted result, the registry's generation, recheck.
#include "unit_test.hpp"

#include <cstring>

#include "keyauth/clock.hpp"
#include "keyauth/keyauth.h"

using keyauth::RegistryWriter;
using keyauth_test::kSecret;
using keyauth_test::LiveClients;
using keyauth_test::put_client;
using keyauth_test::token_text;

namespace {

// myapp01 and myapp02, both with kSecret, live now and for an hour.
struct Clients : LiveClients {
    explicit Clients(std::int64_t now = keyauth::unix_now())
        : LiveClients({{"myapp01", kSecret, now - 10, now + 3600},
                       {"myapp02", kSecret, now - 10, now + 3600}}),
          not_before(now - 10),
          not_after(now + 3600) {}
    const std::int64_t not_before;
    const std::int64_t not_after;
};

// tag: a certificate fingerprint of its own per client.
keyauth::ClientCredentials live_with(const Clients& f, std::uint8_t tag, std::string_view secret,
                                     std::int64_t not_after) {
    return keyauth_test::credentials_with_secret(tag, secret, f.not_before, not_after);
}

keyauth_result_t admitted(Clients& f, std::string_view id) {
    const std::string header = "Bearer " + token_text(id, kSecret);
    keyauth_request_t request{};
    request.token = KEYAUTH_CHECK_REQUIRED;
    request.authorization = header.data();
    request.authorization_len = header.size();
    keyauth_result_t result;
    std::memset(&result, 0x55, sizeof result);
    keyauth_authenticate(f.handle(), &request, &result);
    return result;
}

void accepted_result_carries_digest_and_not_after(void** state) {
    auto& f = fixture_of<Clients>(state);
    const keyauth_result_t result = admitted(f, "myapp01");
    assert_int_equal(result.verdict, KEYAUTH_ACCEPTED);
    assert_int_equal(result.not_after, f.not_after);
    assert_int_equal(result.about, KEYAUTH_TOKEN);
    const keyauth::TokenHash hash = keyauth_test::hash_of_hex(kSecret);
    assert_memory_equal(result.credential, hash.bytes.data(), sizeof result.credential);
}

void recheck_holds_while_nothing_changes(void** state) {
    auto& f = fixture_of<Clients>(state);
    keyauth_result_t grant = admitted(f, "myapp01");
    const std::uint64_t before = keyauth_registry_generation(f.handle());
    assert_int_equal(keyauth_registry_generation(f.handle()), before);
    keyauth_recheck(f.handle(), &grant);
    assert_int_equal(grant.verdict, KEYAUTH_ACCEPTED);
    assert_string_equal(grant.client_id, "myapp01");
}

void delete_changes_generation_and_recheck_refuses(void** state) {
    auto& f = fixture_of<Clients>(state);
    keyauth_result_t gone = admitted(f, "myapp01");
    keyauth_result_t kept = admitted(f, "myapp02");
    const std::uint64_t before = keyauth_registry_generation(f.handle());
    assert_true(f.change([](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_int_not_equal(keyauth_registry_generation(f.handle()), before);
    keyauth_recheck(f.handle(), &gone);
    assert_int_equal(gone.verdict, KEYAUTH_UNKNOWN_CLIENT);
    keyauth_recheck(f.handle(), &kept);
    assert_int_equal(kept.verdict, KEYAUTH_ACCEPTED);
}

// What keyauth_status shows an operator: one step per commit, 0 unreadable.
void commit_sequence_moves_by_one_per_commit(void** state) {
    auto& f = fixture_of<Clients>(state);
    const std::uint64_t before = keyauth_registry_commit_sequence(f.handle());
    assert_int_not_equal(before, 0);
    assert_int_equal(keyauth_registry_commit_sequence(f.handle()), before);
    assert_true(f.change([](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_int_equal(keyauth_registry_commit_sequence(f.handle()), before + 1);
    assert_true(f.change([](RegistryWriter& w) { return w.erase("myapp02").ok(); }));
    assert_int_equal(keyauth_registry_commit_sequence(f.handle()), before + 2);
    assert_int_equal(keyauth_registry_commit_sequence(nullptr), 0);
}

void reissue_is_a_mismatch_and_a_longer_validity_is_taken(void** state) {
    auto& f = fixture_of<Clients>(state);
    keyauth_result_t reissued = admitted(f, "myapp01");
    keyauth_result_t extended = admitted(f, "myapp02");
    const std::int64_t later = f.not_after + 86400;
    assert_true(f.change([&](RegistryWriter& w) {
        return put_client(w, "myapp01", live_with(f, 3, keyauth_test::kOtherSecret, f.not_after),
                          true) &&
               put_client(w, "myapp02", live_with(f, 2, kSecret, later), true);
    }));
    keyauth_recheck(f.handle(), &reissued);
    assert_int_equal(reissued.verdict, KEYAUTH_MISMATCH);
    keyauth_recheck(f.handle(), &extended);
    assert_int_equal(extended.verdict, KEYAUTH_ACCEPTED);
    assert_int_equal(extended.not_after, later);
}

void expiry_is_seen_by_recheck(void** state) {
    auto& f = fixture_of<Clients>(state);
    keyauth_result_t grant = admitted(f, "myapp01");
    assert_true(f.change([&](RegistryWriter& w) {
        return put_client(w, "myapp01", live_with(f, 1, kSecret, keyauth::unix_now() - 1), true);
    }));
    keyauth_recheck(f.handle(), &grant);
    assert_int_equal(grant.verdict, KEYAUTH_EXPIRED);
}

void no_registry_fails_closed(void** state) {
    auto& f = fixture_of<Clients>(state);
    keyauth_result_t grant = admitted(f, "myapp01");
    keyauth_recheck(nullptr, &grant);
    assert_int_equal(grant.verdict, KEYAUTH_REGISTRY_ERROR);
    assert_int_equal(keyauth_registry_generation(nullptr), ~std::uint64_t{0});
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        unit_test_with(Clients, accepted_result_carries_digest_and_not_after),
        unit_test_with(Clients, recheck_holds_while_nothing_changes),
        unit_test_with(Clients, delete_changes_generation_and_recheck_refuses),
        unit_test_with(Clients, commit_sequence_moves_by_one_per_commit),
        unit_test_with(Clients, reissue_is_a_mismatch_and_a_longer_validity_is_taken),
        unit_test_with(Clients, expiry_is_seen_by_recheck),
        unit_test_with(Clients, no_registry_fails_closed),
    };
    return run_group(tests);
}
