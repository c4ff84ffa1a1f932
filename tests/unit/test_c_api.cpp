// The C facade the NGINX glue calls: errors as values, NUL-terminated ids.
#include "unit_test.hpp"

#include <unistd.h>

#include <cstring>

#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/keyauth.h"

using keyauth_test::kSecret;
using keyauth_test::LiveClients;
using keyauth_test::TempDir;
using keyauth_test::token_text;

namespace {

const std::string kLongId(64, 'L');

// myapp01 and a 64-character id, live now; old, expired. All with kSecret.
struct Clients : LiveClients {
    explicit Clients(std::int64_t now = keyauth::unix_now())
        : LiveClients({{"myapp01", kSecret, now - 10, now + 3600},
                       {kLongId, kSecret, now - 10, now + 3600},
                       {"old", kSecret, now - 20, now - 10}}) {}
};

keyauth_registry_t* registry_of(void** state) {
    return fixture_of<Clients>(state).handle();
}

keyauth_result_t authenticate(keyauth_registry_t* registry, const keyauth_request_t& request) {
    keyauth_result_t result;
    std::memset(&result, 0x55, sizeof result);  // nothing may be left unset
    keyauth_authenticate(registry, &request, &result);
    return result;
}

// A request with this Authorization header, to a location with "keyauth on".
keyauth_result_t bearer(keyauth_registry_t* registry, std::string_view header) {
    keyauth_request_t request{};
    request.token = KEYAUTH_CHECK_REQUIRED;
    request.authorization = header.data();
    request.authorization_len = header.size();
    return authenticate(registry, request);
}

void open_missing_dir_explains_itself(void**) {
    TempDir dir;
    const std::string missing = dir / "nope";
    keyauth_registry_t* registry = reinterpret_cast<keyauth_registry_t*>(0x1);
    char err[256];
    std::memset(err, 'x', sizeof err);
    assert_int_equal(keyauth_registry_open(missing.c_str(), &registry, err, sizeof err), -1);
    assert_string_equal(err,
                        ("registry " + missing + " does not exist (run keytool init)").c_str());
    // Untouched on failure.
    assert_ptr_equal(registry, reinterpret_cast<keyauth_registry_t*>(0x1));
}

void open_error_is_truncated_and_terminated(void**) {
    TempDir dir;
    keyauth_registry_t* registry = nullptr;
    char err[12];
    std::memset(err, 'x', sizeof err);
    assert_int_equal(keyauth_registry_open((dir / "nope").c_str(), &registry, err, 10), -1);
    assert_string_equal(err, "registry ");
    assert_int_equal(err[10], 'x');
    // No buffer at all is fine too.
    assert_int_equal(keyauth_registry_open((dir / "nope").c_str(), &registry, nullptr, 0), -1);
    assert_int_equal(keyauth_registry_open(nullptr, &registry, err, sizeof err), -1);
    assert_null(registry);
}

void open_of_an_empty_directory_explains_itself(void**) {
    TempDir dir;
    keyauth_registry_t* registry = nullptr;
    char err[256] = {};
    assert_int_equal(keyauth_registry_open(dir.path().c_str(), &registry, err, sizeof err), -1);
    assert_string_equal(err,
                        ("registry " + dir.path() + " has no data.mdb (run keytool init)").c_str());
}

// keyauth_registry_check judges a directory without creating anything in it.
void check_judges_without_opening(void** state) {
    const std::string& registry = fixture_of<Clients>(state).path();
    char err[256] = {};
    assert_int_equal(keyauth_registry_check(registry.c_str(), err, sizeof err), 0);

    TempDir empty;
    assert_int_equal(keyauth_registry_check(empty.path().c_str(), err, sizeof err), -1);
    assert_string_equal(
        err, ("registry " + empty.path() + " has no data.mdb (run keytool init)").c_str());
    assert_int_not_equal(access((empty / "lookup.idx").c_str(), F_OK), 0);
    assert_int_equal(keyauth_registry_check((empty / "nowhere").c_str(), err, sizeof err), -1);
    assert_string_equal(
        err, ("registry " + (empty / "nowhere") + " does not exist (run keytool init)").c_str());
    assert_int_equal(keyauth_registry_check(nullptr, err, sizeof err), -1);
}

void bearer_accepts_a_live_token(void** state) {
    const keyauth_result_t result =
        bearer(registry_of(state), "Bearer " + token_text("myapp01", kSecret));
    assert_int_equal(result.verdict, KEYAUTH_ACCEPTED);
    assert_int_equal(result.client_id_len, 7);
    assert_string_equal(result.client_id, "myapp01");
}

void bearer_gives_a_64_character_id_nul_terminated(void** state) {
    const keyauth_result_t result =
        bearer(registry_of(state), "bearer  " + token_text(kLongId, kSecret));
    assert_int_equal(result.verdict, KEYAUTH_ACCEPTED);
    assert_int_equal(result.client_id_len, 64);
    assert_int_equal(result.client_id[64], '\0');
    assert_string_equal(result.client_id, kLongId.c_str());
}

void bearer_refusals(void** state) {
    keyauth_registry_t* registry = registry_of(state);
    const std::string token = token_text("myapp01", kSecret);
    // A header that is there but empty is a bad credential, not a missing one.
    assert_int_equal(bearer(registry, "").verdict, KEYAUTH_MALFORMED);
    assert_int_equal(bearer(registry, "Bearer").verdict, KEYAUTH_MALFORMED);
    assert_int_equal(bearer(registry, "Bearer " + token + " extra").verdict, KEYAUTH_MALFORMED);
    assert_int_equal(bearer(registry, "Basic " + token).verdict, KEYAUTH_MALFORMED);
    // The length is what counts, not a NUL.
    std::string with_nul = "Bearer " + token;
    with_nul[20] = '\0';
    const keyauth_result_t nul = bearer(registry, with_nul);
    assert_int_equal(nul.verdict, KEYAUTH_MALFORMED);
    assert_int_equal(nul.client_id_len, 0);
    assert_string_equal(nul.client_id, "");
    const keyauth_result_t unknown = bearer(registry, "Bearer " + token_text("ghost", kSecret));
    assert_int_equal(unknown.verdict, KEYAUTH_UNKNOWN_CLIENT);
    assert_string_equal(unknown.client_id, "ghost");
    const keyauth_result_t expired = bearer(registry, "Bearer " + token_text("old", kSecret));
    assert_int_equal(expired.verdict, KEYAUTH_EXPIRED);
    assert_string_equal(expired.client_id, "old");
    std::string wrong = token;
    wrong.back() = wrong.back() == '8' ? '9' : '8';
    assert_int_equal(bearer(registry, "Bearer " + wrong).verdict, KEYAUTH_MISMATCH);
}

void null_arguments_are_refusals(void** state) {
    keyauth_request_t request{};
    request.token = KEYAUTH_CHECK_REQUIRED;
    assert_int_equal(authenticate(registry_of(state), request).verdict, KEYAUTH_MISSING);
    request.token = KEYAUTH_CHECK_OFF;
    request.client_certificate = KEYAUTH_CHECK_REQUIRED;
    const keyauth_result_t no_certificate = authenticate(registry_of(state), request);
    assert_int_equal(no_certificate.verdict, KEYAUTH_MISSING);
    assert_int_equal(no_certificate.about, KEYAUTH_CERTIFICATE);
    const std::string header = "Bearer " + token_text("myapp01", kSecret);
    const keyauth_result_t no_registry = bearer(nullptr, header);
    assert_int_equal(no_registry.verdict, KEYAUTH_REGISTRY_ERROR);
    assert_string_equal(no_registry.client_id, "");
    keyauth_registry_close(nullptr);
}

void authorization_len_is_what_counts(void** state) {
    const std::string header = "Bearer " + token_text("myapp01", kSecret);
    keyauth_result_t result = bearer(registry_of(state), header);
    assert_int_equal(result.verdict, KEYAUTH_ACCEPTED);
    assert_string_equal(result.client_id, "myapp01");
    // Only as many bytes as given are read.
    result = bearer(registry_of(state), std::string_view(header).substr(0, header.size() - 1));
    assert_int_equal(result.verdict, KEYAUTH_MALFORMED);
}

// The enums and sizes themselves are static_asserted in c_api.cpp.
void verdict_reasons_reach_c(void**) {
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_ACCEPTED), "accepted");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_MISSING), "no credential");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_MALFORMED), "malformed credential");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_UNKNOWN_CLIENT), "unknown client");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_MISMATCH), "credential does not match");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_NOT_YET_VALID), "not yet valid");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_EXPIRED), "expired");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_REGISTRY_ERROR), "registry unavailable");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_NOT_VERIFIED), "certificate not verified");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_DIFFERENT_CLIENTS),
                        "credentials name different clients");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_PASSWORD_MISSING),
                        "password missing (the username is a client id: the password must be its "
                        "token)");
    assert_string_equal(keyauth_verdict_reason(static_cast<keyauth_verdict_t>(-1)), "refused");
    assert_string_equal(keyauth_verdict_reason(static_cast<keyauth_verdict_t>(99)), "refused");
    assert_string_equal(keyauth_verdict_reason(KEYAUTH_SUSPENDED), "suspended");
    // Metric names: fixed, one per verdict, none for an unknown value.
    assert_string_equal(keyauth_verdict_name(KEYAUTH_ACCEPTED), "accepted");
    assert_string_equal(keyauth_verdict_name(KEYAUTH_UNKNOWN_CLIENT), "unknown_client");
    assert_string_equal(keyauth_verdict_name(KEYAUTH_PASSWORD_MISSING), "password_missing");
    assert_string_equal(keyauth_verdict_name(KEYAUTH_SUSPENDED), "suspended");
    assert_string_equal(keyauth_verdict_name(static_cast<keyauth_verdict_t>(KEYAUTH_VERDICTS)),
                        "unknown");
    assert_string_equal(keyauth_verdict_name(static_cast<keyauth_verdict_t>(-1)), "unknown");
}

void authenticate_judges_a_request(void** state) {
    keyauth_registry_t* registry = registry_of(state);
    const std::string header = "Bearer " + token_text("myapp01", kSecret);
    keyauth_request_t request{};
    request.token = KEYAUTH_CHECK_REQUIRED;
    // No header at all: missing, about the token.
    keyauth_result_t result = authenticate(registry, request);
    assert_int_equal(result.verdict, KEYAUTH_MISSING);
    assert_int_equal(result.about, KEYAUTH_TOKEN);
    assert_int_equal(result.client_id_len, 0);
    request.authorization = header.data();
    request.authorization_len = header.size();
    result = authenticate(registry, request);
    assert_int_equal(result.verdict, KEYAUTH_ACCEPTED);
    assert_string_equal(result.client_id, "myapp01");
    assert_int_equal(result.about, KEYAUTH_TOKEN);
    // A required certificate that is not there: missing, about the certificate.
    request.client_certificate = KEYAUTH_CHECK_REQUIRED;
    result = authenticate(registry, request);
    assert_int_equal(result.verdict, KEYAUTH_MISSING);
    assert_int_equal(result.about, KEYAUTH_CERTIFICATE);
    // Checks a C caller may get wrong: nothing checked is a refusal.
    request.token = static_cast<keyauth_check_t>(42);
    request.client_certificate = KEYAUTH_CHECK_OFF;
    assert_int_equal(authenticate(registry, request).verdict, KEYAUTH_MISSING);
    request.token = KEYAUTH_CHECK_REQUIRED;
    result = authenticate(nullptr, request);
    assert_int_equal(result.verdict, KEYAUTH_REGISTRY_ERROR);
    assert_string_equal(result.client_id, "");
    keyauth_authenticate(registry, nullptr, &result);
    assert_int_equal(result.verdict, KEYAUTH_REGISTRY_ERROR);
    assert_int_equal(result.cache, KEYAUTH_CACHE_NOT_CONSULTED);
}

// What nginx's keyauth_status counts as hits and misses.
void authenticate_says_whether_the_cache_answered(void** state) {
    keyauth_registry_t* registry = registry_of(state);
    const std::string header = "Bearer " + token_text("myapp01", kSecret);
    assert_int_equal(bearer(registry, header).cache, KEYAUTH_CACHE_MISS);
    assert_int_equal(bearer(registry, header).cache, KEYAUTH_CACHE_HIT);
    assert_int_equal(bearer(registry, "Bearer nope").cache, KEYAUTH_CACHE_MISS);
    assert_int_equal(bearer(registry, "Basic abc").cache, KEYAUTH_CACHE_NOT_CONSULTED);
    keyauth_request_t request{};
    request.token = KEYAUTH_CHECK_REQUIRED;
    assert_int_equal(authenticate(registry, request).cache, KEYAUTH_CACHE_NOT_CONSULTED);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_missing_dir_explains_itself),
        cmocka_unit_test(open_error_is_truncated_and_terminated),
        cmocka_unit_test(open_of_an_empty_directory_explains_itself),
        unit_test_with(Clients, check_judges_without_opening),
        unit_test_with(Clients, bearer_accepts_a_live_token),
        unit_test_with(Clients, bearer_gives_a_64_character_id_nul_terminated),
        unit_test_with(Clients, bearer_refusals),
        unit_test_with(Clients, null_arguments_are_refusals),
        unit_test_with(Clients, authorization_len_is_what_counts),
        unit_test_with(Clients, authenticate_judges_a_request),
        unit_test_with(Clients, authenticate_says_whether_the_cache_answered),
        cmocka_unit_test(verdict_reasons_reach_c),
    };
    return run_group(tests);
}
