// Rotation with a grace, suspension and the record format upgrade: issued by
// the real CA, judged by the servers' reader, written as keytool writes.
#include "unit_test.hpp"

#include <lmdb.h>

#include "keyauth/authenticator.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/provisioning.hpp"
#include "keyauth/x509_identity.hpp"

using keyauth::AuthResult;
using keyauth::check_certificate;
using keyauth::check_token;
using keyauth::ClientCredentials;
using keyauth::LmdbRegistry;
using keyauth::OpenMode;
using keyauth::RegistryReader;
using keyauth::Verdict;

namespace {

constexpr std::int64_t kNow = 1796000000;  // 2026-11-30
constexpr std::int64_t kGrace = 3600;

#define assert_verdict(result, expected)                                  \
    assert_string_equal(keyauth::verdict_reason((result).verdict).data(), \
                        keyauth::verdict_reason(expected).data())

struct Issued {
    std::string token;
    keyauth::X509Ptr certificate;
};

// A registry with its CA, for issuing as keytool does.
class Registry {
  public:
    Registry() {
        layout_ = keyauth::RegistryLayout{dir_.path()};
        ready_ = keyauth::initialize_registry(layout_, keyauth::InitOptions{}).ok();
    }
    bool ready() const { return ready_; }
    const std::string& path() const { return dir_.path(); }

    // gen (rotate_grace unset) or rotate; nullopt when refused.
    std::optional<Issued> issue(const std::string& id, std::optional<std::int64_t> rotate_grace,
                                std::int64_t now, keyauth::Errc* refused = nullptr) {
        auto authority = keyauth::load_authority(layout_);
        auto writer = LmdbRegistry::open(dir_.path(), OpenMode::read_write);
        if (!authority || !writer)
            return std::nullopt;
        keyauth::IssueRequest request{id, 30, false, rotate_grace};
        Issued issued;
        std::string pem;
        const keyauth::Status s = keyauth::issue_client(
            **writer, *authority, request, now,
            [&](const keyauth::IssuedClient& made) {
                issued.token.assign(made.token.text.view());
                pem = made.certificate.certificate_pem;
                return keyauth::Status();
            },
            [] {});
        if (!s) {
            if (refused != nullptr)
                *refused = s.code();
            return std::nullopt;
        }
        auto parsed = keyauth::parse_certificate_pem(pem);
        if (!parsed)
            return std::nullopt;
        issued.certificate = std::move(*parsed);
        return issued;
    }

    keyauth::Result<bool> set_suspended(const std::string& id, bool suspended) {
        auto writer = LmdbRegistry::open(dir_.path(), OpenMode::read_write);
        if (!writer)
            return writer.error();
        return keyauth::set_client_suspended(**writer, id, suspended);
    }

    std::unique_ptr<RegistryReader> reader() const {
        auto opened = RegistryReader::open(dir_.path());
        return opened ? std::move(*opened) : nullptr;
    }

  private:
    keyauth_test::TempDir dir_;
    keyauth::RegistryLayout layout_;
    bool ready_ = false;
};

void assert_admits(RegistryReader& store, const Issued& issued, std::int64_t now,
                   std::int64_t not_after) {
    const AuthResult by_token = check_token(store, issued.token, now);
    assert_verdict(by_token, Verdict::accepted);
    assert_int_equal(by_token.not_after, not_after);
    const AuthResult by_certificate = check_certificate(store, issued.certificate.get(), now);
    assert_verdict(by_certificate, Verdict::accepted);
    assert_sv_equal(by_certificate.client_id(), "dev1");
    assert_int_equal(by_certificate.not_after, not_after);
}

void rotated_credentials_hold_until_the_grace_ends(void**) {
    Registry registry;
    assert_true(registry.ready());
    auto first = registry.issue("dev1", std::nullopt, kNow);
    assert_true(first.has_value());
    auto second = registry.issue("dev1", kGrace, kNow + 10);
    assert_true(second.has_value());
    auto store = registry.reader();
    assert_non_null(store.get());
    const std::int64_t grace_end = kNow + 10 + kGrace;
    // The old pair until the grace's last second, the new one throughout.
    assert_admits(*store, *first, kNow + 10, grace_end);
    assert_admits(*store, *first, grace_end, grace_end);
    assert_admits(*store, *second, grace_end + 1, kNow + 10 + 30 * 86400);
    assert_verdict(check_token(*store, first->token, grace_end + 1), Verdict::expired);
    assert_verdict(check_certificate(*store, first->certificate.get(), grace_end + 1),
                   Verdict::expired);
    // A live session on the old token: rechecked, its end is the grace's.
    const AuthResult admitted = check_token(*store, first->token, kNow + 20);
    assert_verdict(keyauth::recheck(*store, "dev1", admitted.credential, grace_end),
                   Verdict::accepted);
    assert_verdict(keyauth::recheck(*store, "dev1", admitted.credential, grace_end + 1),
                   Verdict::expired);

    // A second rotation keeps only the credentials it replaces.
    auto third = registry.issue("dev1", kGrace, kNow + 20);
    assert_true(third.has_value());
    assert_verdict(check_token(*store, first->token, kNow + 20), Verdict::mismatch);
    assert_verdict(check_certificate(*store, first->certificate.get(), kNow + 20),
                   Verdict::unknown_client);
    assert_admits(*store, *second, kNow + 20, kNow + 20 + kGrace);
    assert_admits(*store, *third, kNow + 20, kNow + 20 + 30 * 86400);
}

void rotation_without_grace_refuses_the_old_at_once(void**) {
    Registry registry;
    assert_true(registry.ready());
    auto first = registry.issue("dev1", std::nullopt, kNow);
    auto second = registry.issue("dev1", 0, kNow);
    assert_true(first && second);
    auto store = registry.reader();
    assert_verdict(check_token(*store, first->token, kNow), Verdict::mismatch);
    assert_verdict(check_certificate(*store, first->certificate.get(), kNow),
                   Verdict::unknown_client);
    assert_admits(*store, *second, kNow, kNow + 30 * 86400);
    // Only an existing client can be rotated; a bad grace is refused.
    keyauth::Errc refused{};
    assert_false(registry.issue("nobody", kGrace, kNow, &refused).has_value());
    assert_int_equal(static_cast<int>(refused), static_cast<int>(keyauth::Errc::unknown_client));
    assert_false(registry.issue("dev1", -1, kNow, &refused).has_value());
    assert_false(registry.issue("dev1", keyauth::kMaxRotationGrace + 1, kNow).has_value());
}

void grace_never_outlives_the_old_credentials(void**) {
    Registry registry;
    assert_true(registry.ready());
    auto first = registry.issue("dev1", std::nullopt, kNow);  // 30 days
    const std::int64_t late = kNow + 30 * 86400 - 100;
    auto second = registry.issue("dev1", 7 * 86400, late);
    assert_true(first && second);
    auto store = registry.reader();
    const AuthResult old = check_token(*store, first->token, late);
    assert_verdict(old, Verdict::accepted);
    assert_int_equal(old.not_after, kNow + 30 * 86400);
}

void suspended_client_is_refused_and_resumed(void**) {
    Registry registry;
    assert_true(registry.ready());
    auto issued = registry.issue("dev1", std::nullopt, kNow);
    assert_true(issued.has_value());
    auto store = registry.reader();
    const AuthResult admitted = check_token(*store, issued->token, kNow);
    assert_verdict(admitted, Verdict::accepted);

    auto changed = registry.set_suspended("dev1", true);
    assert_ok(changed);
    assert_true(*changed);
    assert_verdict(check_token(*store, issued->token, kNow), Verdict::suspended);
    assert_verdict(check_certificate(*store, issued->certificate.get(), kNow),
                   Verdict::suspended);
    assert_verdict(keyauth::recheck(*store, "dev1", admitted.credential, kNow),
                   Verdict::suspended);
    // Said only to a holder of the client's credentials.
    const std::string forged = "dev1:b:" + std::string(64, '0');
    assert_verdict(check_token(*store, forged, kNow), Verdict::mismatch);
    // Suspending twice changes nothing; a rotation keeps the suspension.
    changed = registry.set_suspended("dev1", true);
    assert_ok(changed);
    assert_false(*changed);
    auto rotated = registry.issue("dev1", kGrace, kNow);
    assert_true(rotated.has_value());
    assert_verdict(check_token(*store, rotated->token, kNow), Verdict::suspended);
    assert_verdict(check_token(*store, issued->token, kNow), Verdict::suspended);

    changed = registry.set_suspended("dev1", false);
    assert_ok(changed);
    assert_true(*changed);
    assert_admits(*store, *rotated, kNow, kNow + 30 * 86400);
    assert_admits(*store, *issued, kNow, kNow + kGrace);
    // Nor does a re-issue (gen --force) lift a suspension.
    assert_ok(registry.set_suspended("dev1", true));
    {
        auto authority = keyauth::load_authority(keyauth::RegistryLayout{registry.path()});
        auto writer = LmdbRegistry::open(registry.path(), OpenMode::read_write);
        assert_ok(authority);
        assert_ok(writer);
        keyauth::IssueRequest force{"dev1", 30, true, std::nullopt};
        std::string forced;
        assert_ok(keyauth::issue_client(
            **writer, *authority, force, kNow,
            [&](const keyauth::IssuedClient& made) {
                forced.assign(made.token.text.view());
                return keyauth::Status();
            },
            [] {}));
        assert_verdict(check_token(*store, forced, kNow), Verdict::suspended);
    }
    auto unknown = registry.set_suspended("nobody", true);
    assert_false(unknown.ok());
    assert_int_equal(static_cast<int>(unknown.error().code),
                     static_cast<int>(keyauth::Errc::unknown_client));
}

// --- the format upgrade ----------------------------------------------------

// Rewrites every record of dir's LMDB as keyauth 0.3 wrote it (format 1),
// and the meta value as given (nullopt: none, as 0.3 left it).
void rewrite_as(const std::string& dir, std::optional<std::string> format_meta) {
    MDB_env* env = nullptr;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 3);
    mdb_env_set_mapsize(env, std::size_t{1} << 30);
    assert_int_equal(mdb_env_open(env, dir.c_str(), MDB_NOLOCK, 0600), 0);
    MDB_txn* txn = nullptr;
    assert_int_equal(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi clients = 0, meta = 0;
    assert_int_equal(mdb_dbi_open(txn, "clients", 0, &clients), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_cursor* cursor = nullptr;
    assert_int_equal(mdb_cursor_open(txn, clients, &cursor), 0);
    MDB_val key{}, value{};
    for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        std::string old(static_cast<const char*>(value.mv_data), keyauth::kFormat1CredentialsSize);
        old[0] = 1;
        MDB_val rewritten{old.size(), old.data()};
        assert_int_equal(mdb_cursor_put(cursor, &key, &rewritten, MDB_CURRENT), 0);
    }
    mdb_cursor_close(cursor);
    MDB_val format_key{14, const_cast<char*>("records.format")};
    if (format_meta) {
        MDB_val v{format_meta->size(), format_meta->data()};
        assert_int_equal(mdb_put(txn, meta, &format_key, &v, 0), 0);
    } else {
        const int rc = mdb_del(txn, meta, &format_key, nullptr);
        assert_true(rc == 0 || rc == MDB_NOTFOUND);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

std::uint8_t stored_format(const std::string& dir, const std::string& id) {
    MDB_env* env = nullptr;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 3);
    if (mdb_env_open(env, dir.c_str(), MDB_NOLOCK | MDB_RDONLY, 0600) != 0)
        return 0;
    MDB_txn* txn = nullptr;
    mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    MDB_dbi clients = 0;
    mdb_dbi_open(txn, "clients", 0, &clients);
    MDB_val key{id.size(), const_cast<char*>(id.data())}, value{};
    std::uint8_t format = 0;
    if (mdb_get(txn, clients, &key, &value) == 0) {
        format = keyauth::credentials_format(
            {static_cast<const char*>(value.mv_data), value.mv_size});
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return format;
}

void format_1_records_are_upgraded_by_the_first_open(void**) {
    Registry registry;
    assert_true(registry.ready());
    auto issued = registry.issue("dev1", std::nullopt, kNow);
    assert_true(issued.has_value());
    assert_int_equal(stored_format(registry.path(), "dev1"), 2);
    rewrite_as(registry.path(), std::nullopt);
    assert_int_equal(stored_format(registry.path(), "dev1"), 1);
    {
        auto opened = LmdbRegistry::open(registry.path(), OpenMode::read_write);
        assert_ok(opened);
        ClientCredentials credentials;
        assert_ok((*opened)->find("dev1", credentials));
        assert_false(credentials.suspended);
    }
    assert_int_equal(stored_format(registry.path(), "dev1"), 2);
    auto store = registry.reader();
    assert_non_null(store.get());
    assert_admits(*store, *issued, kNow, kNow + 30 * 86400);
}

void a_newer_format_is_refused(void**) {
    Registry registry;
    assert_true(registry.ready());
    assert_true(registry.issue("dev1", std::nullopt, kNow).has_value());
    rewrite_as(registry.path(), std::string("3"));
    auto opened = LmdbRegistry::open(registry.path(), OpenMode::read_write);
    assert_false(opened.ok());
    assert_non_null(strstr(opened.error().message.c_str(), "made by a newer keyauth"));
    // Untouched: still format 1, as written.
    assert_int_equal(stored_format(registry.path(), "dev1"), 1);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rotated_credentials_hold_until_the_grace_ends),
        cmocka_unit_test(rotation_without_grace_refuses_the_old_at_once),
        cmocka_unit_test(grace_never_outlives_the_old_credentials),
        cmocka_unit_test(suspended_client_is_refused_and_resumed),
        cmocka_unit_test(format_1_records_are_upgraded_by_the_first_open),
        cmocka_unit_test(a_newer_format_is_refused),
    };
    return run_group(tests);
}
