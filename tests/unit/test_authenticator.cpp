// check_token / check_bearer / check_certificate: the verdicts every adapter
// acts on, at the edges of the validity window and against hostile input.
#include "unit_test.hpp"

#include <new>

#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/provisioning.hpp"
#include "keyauth/x509_authority.hpp"
#include "fingerprint_memo.hpp"

namespace keyauth {
// Reaches the memo's count of the hashes it made.
struct FingerprintMemoTesting {
    static std::size_t hashes_made(RegistryReader& reader) {
        return reader.fingerprint_memo()->hashes_made_;
    }
};
}  // namespace keyauth

using keyauth::AuthResult;
using keyauth::check_bearer;
using keyauth::check_certificate;
using keyauth::check_token;
using keyauth::ClientCredentials;
using keyauth::LmdbRegistry;
using keyauth::OpenMode;
using keyauth::RegistryReader;
using keyauth::RegistryWriter;
using keyauth::Verdict;
using keyauth_test::credentials_with_secret;
using keyauth_test::kOtherSecret;
using keyauth_test::kSecret;
using keyauth_test::LiveClients;
using keyauth_test::put_client;
using keyauth_test::token_text;

namespace {

constexpr std::int64_t kNotBefore = 1675561518;  // 2023-02-05 01:55:18 UTC
constexpr std::int64_t kNotAfter = 1990921518;   // 2033-02-02 01:55:18 UTC

#define assert_verdict(result, expected)                                  \
    assert_string_equal(keyauth::verdict_reason((result).verdict).data(), \
                        keyauth::verdict_reason(expected).data())

// myapp01 (kSecret) and other (kOtherSecret), both valid from kNotBefore to
// kNotAfter.
struct Tokens : LiveClients {
    Tokens()
        : LiveClients({{"myapp01", kSecret, kNotBefore, kNotAfter},
                       {"other", kOtherSecret, kNotBefore, kNotAfter}}) {}
};

keyauth::RegistryReader& reader_of(void** state) {
    return fixture_of<Tokens>(state).reader();
}

const std::string kTokenA = token_text("myapp01", kSecret);

void token_validity_edges(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    const AuthResult early = check_token(store, kTokenA, kNotBefore - 1);
    assert_verdict(early, Verdict::not_yet_valid);
    assert_sv_equal(early.client_id(), "myapp01");

    const AuthResult first = check_token(store, kTokenA, kNotBefore);
    assert_verdict(first, Verdict::accepted);
    assert_true(first.accepted());
    assert_sv_equal(first.client_id(), "myapp01");
    assert_int_equal(first.not_after, kNotAfter);

    const AuthResult last = check_token(store, kTokenA, kNotAfter);
    assert_verdict(last, Verdict::accepted);
    assert_int_equal(last.not_after, kNotAfter);

    const AuthResult late = check_token(store, kTokenA, kNotAfter + 1);
    assert_verdict(late, Verdict::expired);
    assert_false(late.accepted());
    assert_sv_equal(late.client_id(), "myapp01");
}

void secret_of_another_client_is_a_mismatch(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    const AuthResult result = check_token(store, token_text("myapp01", kOtherSecret), kNotBefore);
    assert_verdict(result, Verdict::mismatch);
    assert_sv_equal(result.client_id(), "myapp01");
    assert_int_equal(result.not_after, 0);
    // And the other way round.
    assert_verdict(check_token(store, token_text("other", kSecret), kNotBefore), Verdict::mismatch);
    assert_verdict(check_token(store, token_text("other", kOtherSecret), kNotBefore),
                   Verdict::accepted);
}

void wrong_secret_says_mismatch_even_outside_the_window(void** state) {
    // The window is only disclosed to the holder of the secret.
    keyauth::RegistryReader& store = reader_of(state);
    assert_verdict(check_token(store, token_text("myapp01", kOtherSecret), kNotAfter + 1),
                   Verdict::mismatch);
    assert_verdict(check_token(store, token_text("myapp01", kOtherSecret), kNotBefore - 1),
                   Verdict::mismatch);
}

void every_one_character_change_is_refused(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    for (std::size_t i = 0; i < kTokenA.size(); ++i) {
        std::string changed = kTokenA;
        changed[i] = changed[i] == '1' ? '2' : '1';
        const AuthResult result = check_token(store, changed, kNotBefore);
        assert_false(result.accepted());
    }
    std::string upper = kTokenA;
    upper[kTokenA.size() - 1] = 'A';
    assert_verdict(check_token(store, upper, kNotBefore), Verdict::malformed);
}

void unknown_client(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    const AuthResult result = check_token(store, token_text("ghost", kSecret), kNotBefore);
    assert_verdict(result, Verdict::unknown_client);
    assert_sv_equal(result.client_id(), "ghost");
}

void malformed_and_missing_tokens(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    assert_verdict(check_token(store, "", kNotBefore), Verdict::missing);
    for (const std::string& bad :
         {kTokenA + "0", kTokenA.substr(0, kTokenA.size() - 1), kTokenA + std::string(1, '\0'),
          std::string("myapp01"), std::string("myapp01:b:"), std::string(100000, 'a'),
          std::string("my/app:b:") + std::string(kSecret), std::string(1, '\0')}) {
        const AuthResult result = check_token(store, bad, kNotBefore);
        assert_verdict(result, Verdict::malformed);
        assert_int_equal(result.client_id_length, 0);
        assert_sv_equal(result.client_id(), "");
    }
}

void deleted_client_is_refused_on_next_check(void** state) {
    Tokens& live = fixture_of<Tokens>(state);
    keyauth::RegistryReader& store = live.reader();
    assert_verdict(check_token(store, kTokenA, kNotBefore), Verdict::accepted);
    assert_true(live.change([](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    const AuthResult result = check_token(store, kTokenA, kNotBefore);
    assert_verdict(result, Verdict::unknown_client);
    assert_sv_equal(result.client_id(), "myapp01");
}

void reissued_client_refuses_old_token(void** state) {
    Tokens& live = fixture_of<Tokens>(state);
    keyauth::RegistryReader& store = live.reader();
    // Accepted first, so whatever the reader remembers is put to the test.
    assert_verdict(check_token(store, kTokenA, kNotBefore), Verdict::accepted);
    assert_verdict(check_token(store, kTokenA, kNotBefore), Verdict::accepted);
    assert_true(live.change([](RegistryWriter& w) {
        // A new secret and a certificate of its own.
        const ClientCredentials fresh =
            credentials_with_secret(0x76, kOtherSecret, kNotBefore, kNotAfter);
        return put_client(w, "myapp01", fresh, true);
    }));
    assert_verdict(check_token(store, kTokenA, kNotBefore), Verdict::mismatch);
    assert_verdict(check_token(store, token_text("myapp01", kOtherSecret), kNotBefore),
                   Verdict::accepted);
}

void bearer_header_is_checked(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    const AuthResult ok = check_bearer(store, "Bearer " + kTokenA, kNotBefore);
    assert_verdict(ok, Verdict::accepted);
    assert_sv_equal(ok.client_id(), "myapp01");
    assert_verdict(check_bearer(store, "bEaReR \t" + kTokenA + "  ", kNotBefore),
                   Verdict::accepted);
    assert_verdict(check_bearer(store, "", kNotBefore), Verdict::missing);
    assert_verdict(check_bearer(store, "Bearer", kNotBefore), Verdict::malformed);
    assert_verdict(check_bearer(store, "Bearer   ", kNotBefore), Verdict::malformed);
    assert_verdict(check_bearer(store, "Basic " + kTokenA, kNotBefore), Verdict::malformed);
    assert_verdict(check_bearer(store, kTokenA, kNotBefore), Verdict::malformed);
    assert_verdict(check_bearer(store, "Bearer " + kTokenA + " x", kNotBefore), Verdict::malformed);
    assert_verdict(check_bearer(store, "Bearer x", kNotBefore), Verdict::malformed);
    assert_verdict(check_bearer(store, "Bearer " + kTokenA, kNotAfter + 1), Verdict::expired);
    assert_verdict(check_bearer(store, "Bearer " + token_text("myapp01", kOtherSecret), kNotBefore),
                   Verdict::mismatch);
}

// --- certificates -------------------------------------------------------

keyauth::X509Ptr issue(const keyauth::CertificateAuthority& ca, std::string_view id,
                       keyauth::Fingerprint& fingerprint, std::string& pem) {
    auto issued = ca.issue_client(id, 30, kNotBefore);
    if (!issued)
        return nullptr;
    fingerprint = issued->fingerprint;
    pem = issued->certificate_pem;
    auto parsed = keyauth::parse_certificate_pem(issued->certificate_pem);
    return parsed ? std::move(*parsed) : nullptr;
}

// Tokens, with myapp01's certificate one a test CA issued.
struct Certificates : Tokens {
    keyauth::X509Ptr registered;    // CN myapp01, registered
    keyauth::X509Ptr unregistered;  // CN myapp01 too, same CA, never registered
    std::string registered_pem, unregistered_pem;
    bool registered_in_place = false;

    Certificates() {
        auto ca = keyauth::CertificateAuthority::create("test CA", 30, kNotBefore);
        if (!ca)
            return;
        keyauth::Fingerprint registered_fp;
        keyauth::Fingerprint unregistered_fp;
        registered = issue(*ca, "myapp01", registered_fp, registered_pem);
        unregistered = issue(*ca, "myapp01", unregistered_fp, unregistered_pem);
        ClientCredentials c = credentials_with_secret(1, kSecret, kNotBefore, kNotAfter);
        c.certificate_fingerprint = registered_fp;
        registered_in_place =
            change([&](RegistryWriter& w) { return put_client(w, "myapp01", c, true); });
    }
    bool ready() const {
        return Tokens::ready() && registered && unregistered && registered_in_place;
    }
};

void certificate_validity_edges(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    const X509* cert = f->registered.get();
    const AuthResult early = check_certificate(f->reader(), cert, kNotBefore - 1);
    assert_verdict(early, Verdict::not_yet_valid);
    assert_sv_equal(early.client_id(), "myapp01");
    const AuthResult first = check_certificate(f->reader(), cert, kNotBefore);
    assert_verdict(first, Verdict::accepted);
    assert_sv_equal(first.client_id(), "myapp01");
    assert_int_equal(first.not_after, kNotAfter);
    assert_verdict(check_certificate(f->reader(), cert, kNotAfter), Verdict::accepted);
    assert_verdict(check_certificate(f->reader(), cert, kNotAfter + 1), Verdict::expired);
}

void certificate_with_unregistered_fingerprint_is_unknown(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    // Same CA, same CN: only the fingerprint tells them apart.
    const AuthResult result = check_certificate(f->reader(), f->unregistered.get(), kNotBefore);
    assert_verdict(result, Verdict::unknown_client);
    assert_int_equal(result.client_id_length, 0);
}

void missing_certificate(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    const AuthResult result = check_certificate(f->reader(), nullptr, kNotBefore);
    assert_verdict(result, Verdict::missing);
}

void deleted_certificate_is_refused_on_next_check(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    assert_verdict(check_certificate(f->reader(), f->registered.get(), kNotBefore),
                   Verdict::accepted);
    assert_true(f->change([](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_verdict(check_certificate(f->reader(), f->registered.get(), kNotBefore),
                   Verdict::unknown_client);
}

// A kept-alive connection presents one X509 object on every request: its
// fingerprint is computed once, and the record is still looked up and judged
// every time (fingerprint_memo.hpp).
void a_kept_certificate_is_hashed_once_and_judged_every_time(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    const X509* cert = f->registered.get();
    const std::size_t before = keyauth::FingerprintMemoTesting::hashes_made(f->reader());
    for (int i = 0; i < 3; ++i)
        assert_verdict(check_certificate(f->reader(), cert, kNotBefore), Verdict::accepted);
    assert_int_equal(keyauth::FingerprintMemoTesting::hashes_made(f->reader()), before + 1);
    // Suspended, then given another certificate: the same object refused at once.
    ClientCredentials c = credentials_with_secret(1, kSecret, kNotBefore, kNotAfter);
    c.certificate_fingerprint = keyauth::fingerprint_of(cert);
    c.suspended = true;
    assert_true(f->change([&](RegistryWriter& w) { return put_client(w, "myapp01", c, true); }));
    assert_verdict(check_certificate(f->reader(), cert, kNotBefore), Verdict::suspended);
    c.suspended = false;
    c.certificate_fingerprint = keyauth::fingerprint_of(f->unregistered.get());
    assert_true(f->change([&](RegistryWriter& w) { return put_client(w, "myapp01", c, true); }));
    assert_verdict(check_certificate(f->reader(), cert, kNotBefore), Verdict::unknown_client);
    assert_verdict(check_certificate(f->reader(), f->unregistered.get(), kNotBefore),
                   Verdict::accepted);
    assert_int_equal(keyauth::FingerprintMemoTesting::hashes_made(f->reader()), before + 2);
}

// The memo keeps the certificates it names alive: a certificate freed by its
// connection cannot have its address given to another, whose fingerprint
// would then be taken for the first's.
void a_freed_certificates_address_names_no_other(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    for (int round = 0; round < 64; ++round) {
        auto registered = keyauth::parse_certificate_pem(f->registered_pem);
        assert_ok(registered);
        assert_verdict(check_certificate(f->reader(), registered->get(), kNotBefore),
                       Verdict::accepted);
        registered->reset();  // the connection closes: the host's reference goes
        auto other = keyauth::parse_certificate_pem(f->unregistered_pem);
        assert_ok(other);
        assert_verdict(check_certificate(f->reader(), other->get(), kNotBefore),
                       Verdict::unknown_client);
    }
}

// --- authenticate: the one policy ------------------------------------------

using keyauth::authenticate;
using keyauth::Check;
using keyauth::CredentialKind;
using keyauth::Presented;
using keyauth::Requirements;

const std::string kTokenB = token_text("other", kOtherSecret);
const std::string kBearerA = "Bearer " + kTokenA;
const std::string kBearerB = "Bearer " + kTokenB;
const std::string kBasicA = "Basic " + kTokenA;
const std::string kWrongSecretA = token_text("myapp01", kOtherSecret);

Presented mqtt(std::string_view client_id, std::optional<std::string_view> username,
               std::optional<std::string_view> password = std::nullopt) {
    Presented p;
    p.mqtt_client_id = client_id;
    p.mqtt_username = username;
    p.mqtt_password = password;
    return p;
}

const Requirements kMqttTokens{Check::required, Check::off, true};

void mqtt_token_as_username_or_as_password(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    // The seed's form: the username is the token, a password is ignored.
    AuthResult r = authenticate(store, mqtt("myapp01", kTokenA), kMqttTokens, kNotBefore);
    assert_verdict(r, Verdict::accepted);
    assert_sv_equal(r.client_id(), "myapp01");
    assert_int_equal(static_cast<int>(r.about), static_cast<int>(CredentialKind::token));
    assert_verdict(authenticate(store, mqtt("myapp01", kTokenA, "x"), kMqttTokens, kNotBefore),
                   Verdict::accepted);
    // Tools with separate fields: username = registered id, password = token.
    r = authenticate(store, mqtt("myapp01", "myapp01", kTokenA), kMqttTokens, kNotBefore);
    assert_verdict(r, Verdict::accepted);
    assert_sv_equal(r.client_id(), "myapp01");
    // ... and the username must be the token's client.
    r = authenticate(store, mqtt("myapp01", "myapp01", kTokenB), kMqttTokens, kNotBefore);
    assert_verdict(r, Verdict::different_clients);
    assert_sv_equal(r.client_id(), "other");
    assert_verdict(
        authenticate(store, mqtt("other", std::nullopt, kTokenB), kMqttTokens, kNotBefore),
        Verdict::different_clients);
    assert_verdict(
        authenticate(store, mqtt("myapp01", "myapp01", kWrongSecretA), kMqttTokens, kNotBefore),
        Verdict::mismatch);
    // Nothing, or a username that is no token and no password.
    assert_verdict(authenticate(store, mqtt("myapp01", std::nullopt), kMqttTokens, kNotBefore),
                   Verdict::missing);
    assert_verdict(authenticate(store, mqtt("myapp01", ""), kMqttTokens, kNotBefore),
                   Verdict::missing);
    // A registered id as username and no password: the password is missing;
    // anything else that is no token is malformed.
    assert_verdict(authenticate(store, mqtt("myapp01", "myapp01"), kMqttTokens, kNotBefore),
                   Verdict::password_missing);
    assert_verdict(authenticate(store, mqtt("myapp01", "myapp01", ""), kMqttTokens, kNotBefore),
                   Verdict::password_missing);
    assert_verdict(authenticate(store, mqtt("myapp01", "my app 01"), kMqttTokens, kNotBefore),
                   Verdict::malformed);
    assert_verdict(authenticate(store, mqtt("myapp01", kTokenA), kMqttTokens, kNotAfter + 1),
                   Verdict::expired);
}

void mqtt_token_session_client_id_belongs_to_its_client(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    auto verdict_for = [&](std::string_view client_id) {
        return authenticate(store, mqtt(client_id, kTokenA), kMqttTokens, kNotBefore);
    };
    assert_verdict(verdict_for("myapp01"), Verdict::accepted);
    assert_verdict(verdict_for("myapp01:sensor1"), Verdict::accepted);
    assert_verdict(verdict_for("myapp01:"), Verdict::accepted);
    assert_verdict(verdict_for("myapp01:a:b/c"), Verdict::accepted);
    for (std::string_view other :
         {"other", "other:x", "myapp011", "myapp0", "myapp01-x", "MYAPP01", "",
          "auto-0A1B2C3D-0000-0000-0000-000000000000", ":myapp01", "xmyapp01"}) {
        const AuthResult r = verdict_for(other);
        assert_verdict(r, Verdict::client_id_refused);
        assert_sv_equal(r.client_id(), "myapp01");  // for the log: who tried
    }
    // An id the broker assigned to a client that sent none.
    Presented assigned = mqtt("auto-0A1B2C3D-0000-0000-0000-000000000000", kTokenA);
    assigned.mqtt_client_id_assigned = true;
    const AuthResult admitted_assigned = authenticate(store, assigned, kMqttTokens, kNotBefore);
    assert_verdict(admitted_assigned, Verdict::accepted);
    // The id's form is said, for the host to count such sessions.
    assert_true(admitted_assigned.mqtt_client_id_assigned_form);
    assert_false(verdict_for("myapp01").mqtt_client_id_assigned_form);
    // Another broker's auto_id_prefix.
    Requirements dev_prefix = kMqttTokens;
    dev_prefix.assigned_id_prefix = "dev-";
    assert_verdict(authenticate(store, assigned, dev_prefix, kNotBefore),
                   Verdict::client_id_refused);
    assigned.mqtt_client_id = "dev-0A1B2C3D-0000-0000-0000-000000000000";
    assert_verdict(authenticate(store, assigned, dev_prefix, kNotBefore), Verdict::accepted);
    // The client id is judged after the credential: a bad token says so.
    assert_verdict(authenticate(store, mqtt("other", kWrongSecretA), kMqttTokens, kNotBefore),
                   Verdict::mismatch);
}

// Ids of the form the broker assigns, the broker's own among them
// ("auto-UUID"), may be registered: a client chose one. Registered, they are
// that client's alone, whatever its state.
struct AssignedForm : LiveClients {
    AssignedForm()
        : LiveClients(
              {{"myapp01", kSecret, kNotBefore, kNotAfter},
               {"sensor-3F2504E0-4F89-11D3-9A0C-0305E82C3301", kOtherSecret, kNotBefore, kNotAfter},
               {"auto-3F2504E0-4F89-11D3-9A0C-0305E82C3301", kOtherSecret, kNotBefore,
                kNotAfter}}) {}
};

void the_brokers_assigned_form(void**) {
    using keyauth::has_assigned_id_form;
    assert_true(has_assigned_id_form("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718", "auto-"));
    assert_true(has_assigned_id_form("dev-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718", "dev-"));
    // Only with the broker's prefix, exactly.
    assert_false(has_assigned_id_form("dev-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718", "auto-"));
    assert_false(has_assigned_id_form("sensor-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718", "auto-"));
    // None: Mosquitto 2.0.11 forgets its default prefix at a SIGHUP.
    assert_true(has_assigned_id_form("0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718", "auto-"));
    assert_false(has_assigned_id_form("x-auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718", "auto-"));
    assert_false(has_assigned_id_form("", "auto-"));
    assert_false(has_assigned_id_form("auto-", "auto-"));
    // Lowercase hex: not what the broker writes.
    assert_false(has_assigned_id_form("auto-0b8e3f2a-91c4-4d6e-a1b2-c3d4e5f60718", "auto-"));
    // A dash moved, a digit missing, a letter beyond F, one character more.
    assert_false(has_assigned_id_form("auto-0B8E3F2A91-C4-4D6E-A1B2-C3D4E5F60718", "auto-"));
    assert_false(has_assigned_id_form("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F6071", "auto-"));
    assert_false(has_assigned_id_form("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F6071G", "auto-"));
    assert_false(has_assigned_id_form("auto-0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718x", "auto-"));
    // A prefix in a registered client's namespace (its id, ':', anything).
    assert_false(has_assigned_id_form("alice:0B8E3F2A-91C4-4D6E-A1B2-C3D4E5F60718", "alice:"));
}

// review-2 M-A: a registered id of the assigned form is never taken for the
// broker's, or any token holder could connect under it with a clean session
// and wipe that client's stored session.
void a_registered_id_is_never_assigned(void** state) {
    AssignedForm& live = fixture_of<AssignedForm>(state);
    keyauth::RegistryReader& store = live.reader();
    const std::string sensor = "sensor-3F2504E0-4F89-11D3-9A0C-0305E82C3301";
    const std::string registered_auto = "auto-3F2504E0-4F89-11D3-9A0C-0305E82C3301";
    auto verdict_for = [&](std::string_view client_id, const Requirements& requirements) {
        Presented presented = mqtt(client_id, kTokenA);
        presented.mqtt_client_id_assigned = true;  // as far as the host can tell
        return authenticate(store, presented, requirements, kNotBefore).verdict;
    };
    Requirements sensor_prefix = kMqttTokens;
    sensor_prefix.assigned_id_prefix = "sensor-";
    // Another client's registered id: refused, with either prefix.
    assert_int_equal(verdict_for(registered_auto, kMqttTokens), Verdict::client_id_refused);
    assert_int_equal(verdict_for(sensor, sensor_prefix), Verdict::client_id_refused);
    // Of the form but with a prefix that is not the broker's: refused.
    assert_int_equal(verdict_for(sensor, kMqttTokens), Verdict::client_id_refused);
    // Suspended: still that client's.
    assert_true(live.change([&](RegistryWriter& w) {
        auto credentials = credentials_with_secret(3, kOtherSecret, kNotBefore, kNotAfter);
        credentials.suspended = true;
        return put_client(w, registered_auto, credentials, true);
    }));
    assert_int_equal(verdict_for(registered_auto, kMqttTokens), Verdict::client_id_refused);
    // Deleted: nobody's, so the broker's form may be the broker's again.
    assert_true(live.change([&](RegistryWriter& w) { return w.erase(registered_auto).ok(); }));
    assert_int_equal(verdict_for(registered_auto, kMqttTokens), Verdict::accepted);
    // Not claimed by the host (a session resumed, or one it admitted holds it).
    Presented resumed = mqtt("auto-0A1B2C3D-0000-0000-0000-000000000000", kTokenA);
    assert_verdict(authenticate(store, resumed, kMqttTokens, kNotBefore),
                   Verdict::client_id_refused);
}

// A live token session under an id the broker assigned keeps it only while
// no client has that id: one registered since, in whatever state, refuses it
// at the next recheck. Sessions under their own id are not asked about it
// (nor certificates' under any id: test_mqtt_sessions).
void an_assigned_id_is_rechecked_against_clients_registered_since(void** state) {
    AssignedForm& live = fixture_of<AssignedForm>(state);
    keyauth::RegistryReader& store = live.reader();
    const std::string assigned = "auto-0A1B2C3D-0000-0000-0000-000000000000";
    Presented presented = mqtt(assigned, kTokenA);
    presented.mqtt_client_id_assigned = true;
    const AuthResult admitted = authenticate(store, presented, kMqttTokens, kNotBefore);
    assert_verdict(admitted, Verdict::accepted);
    auto recheck_under = [&](std::string_view mqtt_id) {
        return keyauth::recheck_mqtt_session(store, mqtt_id, "myapp01", admitted.credential,
                                             kNotBefore)
            .verdict;
    };
    assert_int_equal(recheck_under(assigned), Verdict::accepted);
    assert_true(live.change([&](RegistryWriter& w) {
        auto credentials = credentials_with_secret(4, kOtherSecret, kNotBefore, kNotAfter);
        credentials.suspended = true;
        return put_client(w, assigned, credentials, true);
    }));
    assert_int_equal(recheck_under(assigned), Verdict::client_id_refused);
    assert_int_equal(recheck_under("myapp01"), Verdict::accepted);
    assert_int_equal(recheck_under("myapp01:sub"), Verdict::accepted);
    // The credential is judged first: a deleted client is unknown, as ever.
    assert_true(live.change([&](RegistryWriter& w) { return w.erase("myapp01").ok(); }));
    assert_int_equal(recheck_under(assigned), Verdict::unknown_client);
}

void nothing_checked_is_refused(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    assert_verdict(authenticate(store, mqtt("myapp01", kTokenA),
                                Requirements{Check::off, Check::off}, kNotBefore),
                   Verdict::missing);
    Presented http;
    http.authorization = kBearerA;
    assert_verdict(
        authenticate(store, http, Requirements{Check::when_presented, Check::off}, kNotBefore),
        Verdict::accepted);
    assert_verdict(authenticate(store, Presented{}, Requirements{Check::when_presented, Check::off},
                                kNotBefore),
                   Verdict::missing);
}

void http_bearer_required(void** state) {
    keyauth::RegistryReader& store = reader_of(state);
    const Requirements tokens{Check::required, Check::off};
    Presented http;
    AuthResult r = authenticate(store, http, tokens, kNotBefore);
    assert_verdict(r, Verdict::missing);
    assert_int_equal(static_cast<int>(r.about), static_cast<int>(CredentialKind::token));
    http.authorization = "";
    assert_verdict(authenticate(store, http, tokens, kNotBefore), Verdict::malformed);
    http.authorization = kBearerA;
    r = authenticate(store, http, tokens, kNotBefore);
    assert_verdict(r, Verdict::accepted);
    assert_sv_equal(r.client_id(), "myapp01");
    http.authorization = kBasicA;
    assert_verdict(authenticate(store, http, tokens, kNotBefore), Verdict::malformed);
}

void certificate_and_token_must_name_one_client(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    const Requirements both{Check::required, Check::required};
    Presented http;
    http.certificate = f->registered.get();
    http.certificate_verified = true;
    http.authorization = kBearerA;
    AuthResult r = authenticate(f->reader(), http, both, kNotBefore);
    assert_verdict(r, Verdict::accepted);
    assert_sv_equal(r.client_id(), "myapp01");
    assert_int_equal(static_cast<int>(r.about), static_cast<int>(CredentialKind::certificate));
    // Both valid, two clients.
    http.authorization = kBearerB;
    r = authenticate(f->reader(), http, both, kNotBefore);
    assert_verdict(r, Verdict::different_clients);
    assert_sv_equal(r.client_id(), "other");
    // A required token is required even with a good certificate.
    http.authorization.reset();
    r = authenticate(f->reader(), http, both, kNotBefore);
    assert_verdict(r, Verdict::missing);
    assert_int_equal(static_cast<int>(r.about), static_cast<int>(CredentialKind::token));
    // The certificate is judged first: the TLS layer's verdict, then the registry's.
    http.certificate_verified = false;
    http.authorization = kBearerA;
    r = authenticate(f->reader(), http, both, kNotBefore);
    assert_verdict(r, Verdict::not_verified);
    assert_int_equal(static_cast<int>(r.about), static_cast<int>(CredentialKind::certificate));
    http.certificate = f->unregistered.get();
    http.certificate_verified = true;
    assert_verdict(authenticate(f->reader(), http, both, kNotBefore), Verdict::unknown_client);
    http.certificate = nullptr;
    r = authenticate(f->reader(), http, both, kNotBefore);
    assert_verdict(r, Verdict::missing);
    assert_int_equal(static_cast<int>(r.about), static_cast<int>(CredentialKind::certificate));
}

void mqtt_certificate_session(void** state) {
    auto* f = &fixture_of<Certificates>(state);
    // A certificate listener: the certificate decides, a token must agree.
    const Requirements listener{Check::when_presented, Check::required, true};
    Presented p = mqtt("myapp01", std::nullopt);
    p.certificate = f->registered.get();
    p.certificate_verified = true;
    AuthResult r = authenticate(f->reader(), p, listener, kNotBefore);
    assert_verdict(r, Verdict::accepted);
    assert_int_equal(static_cast<int>(r.about), static_cast<int>(CredentialKind::certificate));
    p.mqtt_username = "any name";  // no token: the client's business
    assert_verdict(authenticate(f->reader(), p, listener, kNotBefore), Verdict::accepted);
    p.mqtt_username = kTokenA;
    assert_verdict(authenticate(f->reader(), p, listener, kNotBefore), Verdict::accepted);
    p.mqtt_username = kTokenB;
    assert_verdict(authenticate(f->reader(), p, listener, kNotBefore), Verdict::different_clients);
    p.mqtt_username = "myapp01";
    p.mqtt_password = kWrongSecretA;
    assert_verdict(authenticate(f->reader(), p, listener, kNotBefore), Verdict::mismatch);
    // The certificate's client id is the registered id, no suffix.
    p.mqtt_username.reset();
    p.mqtt_password.reset();
    p.mqtt_client_id = "myapp01:x";
    assert_verdict(authenticate(f->reader(), p, listener, kNotBefore), Verdict::client_id_refused);
    assert_verdict(
        authenticate(f->reader(), p, Requirements{Check::off, Check::required, false}, kNotBefore),
        Verdict::accepted);
    // Any id when waived, one of the broker's form too: said, for the host to count.
    p.mqtt_client_id = "auto-0A1B2C3D-0000-0000-0000-000000000000";
    r = authenticate(f->reader(), p, Requirements{Check::off, Check::required, false}, kNotBefore);
    assert_verdict(r, Verdict::accepted);
    assert_true(r.mqtt_client_id_assigned_form);
}

// --- a store that fails ----------------------------------------------------

class FailingStore final : public keyauth::ClientStore {
  public:
    explicit FailingStore(keyauth::Errc code, bool throws = false) : code_(code), throws_(throws) {}
    keyauth::Status find(std::string_view, ClientCredentials&) override { return refuse(); }
    keyauth::Status find_by_fingerprint(const keyauth::Fingerprint&, std::string&,
                                        ClientCredentials&) override {
        return refuse();
    }
    keyauth::Result<std::vector<keyauth::ClientRecord>> list() override {
        return keyauth::make_error(code_, "failing");
    }
    std::uint64_t generation() override { return 0; }

  private:
    keyauth::Status refuse() {
        if (throws_)
            throw std::bad_alloc();
        return keyauth::make_error(code_, "failing");
    }
    keyauth::Errc code_;
    bool throws_;
};

void registry_failures_fail_closed(void**) {
    auto ca = keyauth::CertificateAuthority::create("test CA", 30, kNotBefore);
    assert_ok(ca);
    keyauth::Fingerprint fp;
    std::string pem;
    keyauth::X509Ptr cert = issue(*ca, "myapp01", fp, pem);
    for (keyauth::Errc code : {keyauth::Errc::io_error, keyauth::Errc::registry_corrupt,
                               keyauth::Errc::not_found, keyauth::Errc::permission_denied}) {
        FailingStore store(code);
        assert_verdict(check_token(store, kTokenA, kNotBefore), Verdict::registry_error);
        assert_verdict(check_certificate(store, cert.get(), kNotBefore), Verdict::registry_error);
    }
    FailingStore throwing(keyauth::Errc::io_error, true);
    assert_verdict(check_token(throwing, kTokenA, kNotBefore), Verdict::registry_error);
    assert_verdict(check_bearer(throwing, "Bearer " + kTokenA, kNotBefore),
                   Verdict::registry_error);
    assert_verdict(check_certificate(throwing, cert.get(), kNotBefore), Verdict::registry_error);
    assert_verdict(authenticate(throwing, mqtt("myapp01", kTokenA), kMqttTokens, kNotBefore),
                   Verdict::registry_error);
}

void verdict_reasons_are_fixed_words(void**) {
    assert_string_equal(keyauth::verdict_reason(Verdict::accepted).data(), "accepted");
    assert_string_equal(keyauth::verdict_reason(Verdict::missing).data(), "no credential");
    assert_string_equal(keyauth::verdict_reason(Verdict::malformed).data(), "malformed credential");
    assert_string_equal(keyauth::verdict_reason(Verdict::unknown_client).data(), "unknown client");
    assert_string_equal(keyauth::verdict_reason(Verdict::mismatch).data(),
                        "credential does not match");
    assert_string_equal(keyauth::verdict_reason(Verdict::not_yet_valid).data(), "not yet valid");
    assert_string_equal(keyauth::verdict_reason(Verdict::expired).data(), "expired");
    assert_string_equal(keyauth::verdict_reason(Verdict::registry_error).data(),
                        "registry unavailable");
    assert_string_equal(keyauth::verdict_reason(Verdict::not_verified).data(),
                        "certificate not verified");
    assert_string_equal(keyauth::verdict_reason(Verdict::different_clients).data(),
                        "credentials name different clients");
    assert_string_equal(keyauth::verdict_reason(Verdict::client_id_refused).data(),
                        "MQTT client id is not the client's (set it to the registered id; with a "
                        "token, the id, ':' and any suffix may do)");
    assert_string_equal(keyauth::verdict_reason(Verdict::password_missing).data(),
                        "password missing (the username is a client id: the password must be its "
                        "token)");
    assert_string_equal(keyauth::verdict_reason(static_cast<Verdict>(99)).data(), "refused");
}

// --- issued end to end ---------------------------------------------------

void issued_client_is_accepted_by_token_and_certificate(void**) {
    keyauth_test::TempDir dir;
    const keyauth::RegistryLayout layout{dir.path()};
    assert_ok(keyauth::initialize_registry(layout, keyauth::InitOptions{}));
    auto authority = keyauth::load_authority(layout);
    assert_ok(authority);
    const std::int64_t now = keyauth::unix_now();
    std::string token;
    std::string certificate_pem;
    {
        auto writer = LmdbRegistry::open(dir.path(), OpenMode::read_write);
        assert_ok(writer);
        keyauth::IssueRequest request{"myapp01", 2, false, std::nullopt};
        assert_ok(keyauth::issue_client(
            **writer, *authority, request, now,
            [&](const keyauth::IssuedClient& issued) {
                token.assign(issued.token.text.view());
                certificate_pem = issued.certificate.certificate_pem;
                return keyauth::Status();
            },
            [] {}));
    }
    auto reader = RegistryReader::open(dir.path());
    assert_ok(reader);
    const AuthResult by_token = check_token(**reader, token, now);
    assert_verdict(by_token, Verdict::accepted);
    assert_sv_equal(by_token.client_id(), "myapp01");
    assert_int_equal(by_token.not_after, now + 2 * 86400);
    assert_verdict(check_token(**reader, token, now + 2 * 86400 + 1), Verdict::expired);
    auto cert = keyauth::parse_certificate_pem(certificate_pem);
    assert_ok(cert);
    const AuthResult by_cert = check_certificate(**reader, cert->get(), now);
    assert_verdict(by_cert, Verdict::accepted);
    assert_sv_equal(by_cert.client_id(), "myapp01");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        unit_test_with(Tokens, token_validity_edges),
        unit_test_with(Tokens, secret_of_another_client_is_a_mismatch),
        unit_test_with(Tokens, wrong_secret_says_mismatch_even_outside_the_window),
        unit_test_with(Tokens, every_one_character_change_is_refused),
        unit_test_with(Tokens, unknown_client),
        unit_test_with(Tokens, malformed_and_missing_tokens),
        unit_test_with(Tokens, deleted_client_is_refused_on_next_check),
        unit_test_with(Tokens, reissued_client_refuses_old_token),
        unit_test_with(Tokens, bearer_header_is_checked),
        unit_test_with(Tokens, mqtt_token_as_username_or_as_password),
        unit_test_with(Tokens, mqtt_token_session_client_id_belongs_to_its_client),
        unit_test_with(Tokens, nothing_checked_is_refused),
        cmocka_unit_test(the_brokers_assigned_form),
        unit_test_with(AssignedForm, a_registered_id_is_never_assigned),
        unit_test_with(AssignedForm, an_assigned_id_is_rechecked_against_clients_registered_since),
        unit_test_with(Tokens, http_bearer_required),
        unit_test_with(Certificates, certificate_and_token_must_name_one_client),
        unit_test_with(Certificates, mqtt_certificate_session),
        unit_test_with(Certificates, certificate_validity_edges),
        unit_test_with(Certificates, certificate_with_unregistered_fingerprint_is_unknown),
        unit_test_with(Certificates, missing_certificate),
        unit_test_with(Certificates, deleted_certificate_is_refused_on_next_check),
        unit_test_with(Certificates, a_kept_certificate_is_hashed_once_and_judged_every_time),
        unit_test_with(Certificates, a_freed_certificates_address_names_no_other),
        cmocka_unit_test(registry_failures_fail_closed),
        cmocka_unit_test(verdict_reasons_are_fixed_words),
        cmocka_unit_test(issued_client_is_accepted_by_token_and_certificate),
    };
    return run_group(tests);
}
