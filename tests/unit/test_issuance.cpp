// Setting up a registry and issuing/revoking clients through the core, as
// keytool does: modes of the registry files, one client per id, a client
// registered exactly when its delivery succeeded.
#include "unit_test.hpp"

#include <sys/stat.h>

#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/files.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/provisioning.hpp"

using keyauth::Errc;
using keyauth::IssuedClient;
using keyauth::IssueRequest;
using keyauth::LmdbRegistry;
using keyauth::OpenMode;
using keyauth::RegistryLayout;
using keyauth::Status;
using keyauth_test::TempDir;

namespace {

mode_t permissions(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0)
        return 01;  // no such file: never a valid mode here
    return st.st_mode & 07777;
}

struct Fixture {
    TempDir dir;
    RegistryLayout layout{dir.path()};
    std::optional<keyauth::CertificateAuthority> authority;
    std::unique_ptr<LmdbRegistry> registry;

    Fixture() {
        if (!keyauth::initialize_registry(layout, keyauth::InitOptions{}).ok())
            return;
        auto loaded = keyauth::load_authority(layout);
        auto opened = LmdbRegistry::open(dir.path(), OpenMode::read_write);
        if (!loaded || !opened)
            return;
        authority.emplace(std::move(*loaded));
        registry = std::move(*opened);
    }
    bool ready() const { return authority && registry; }
};

// Issues id; the token text delivered, or "" if issuance failed.
std::string issue(Fixture& f, const IssueRequest& request, Status* status = nullptr,
                  bool deliver_ok = true) {
    std::string token;
    const Status s = keyauth::issue_client(
        *f.registry, *f.authority, request, keyauth::unix_now(),
        [&](const IssuedClient& issued) {
            if (!deliver_ok)
                return Status(keyauth::make_error(Errc::io_error, "disk full"));
            token.assign(issued.token.text.view());
            return Status();
        },
        [] {});
    if (status != nullptr)
        *status = s;
    return s.ok() ? token : std::string();
}

keyauth::Verdict verdict_of(Fixture& f, const std::string& token) {
    return keyauth::check_token(*f.registry, token, keyauth::unix_now()).verdict;
}

void init_lays_out_the_registry_with_spec_modes(void**) {
    TempDir parent;
    const RegistryLayout layout{parent / "registry"};
    const mode_t old = umask(0);
    const Status status = keyauth::initialize_registry(layout, keyauth::InitOptions{});
    umask(old);
    assert_ok(status);
    assert_true(keyauth::registry_initialized(layout));
    assert_int_equal(permissions(layout.dir), 0750);
    assert_int_equal(permissions(layout.ca_cert()), 0644);
    assert_int_equal(permissions(layout.ca_key()), 0600);
    assert_int_equal(permissions(layout.server_cert()), 0640);
    assert_int_equal(permissions(layout.server_key()), 0640);
    assert_int_equal(permissions(layout.data_file()), 0640);
    assert_int_equal(permissions(layout.commit_sequence()), 0640);
    assert_int_equal(permissions(layout.writer_lock()), 0600);
    assert_ok(keyauth::load_authority(layout));
}

void init_refuses_an_initialized_registry(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    const std::string ca_before = *keyauth::read_small_file(f.layout.ca_cert());
    const Status again = keyauth::initialize_registry(f.layout, keyauth::InitOptions{});
    assert_code(again, Errc::already_exists);
    assert_sv_equal(again.error().message, "registry " + f.layout.dir + " is already initialized");
    assert_sv_equal(*keyauth::read_small_file(f.layout.ca_cert()), ca_before);
}

void init_again_with_hosts_keeps_ca_and_clients(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    IssueRequest request;
    request.client_id = "myapp01";
    const std::string token = issue(f, request);
    const std::string ca_key_before = *keyauth::read_small_file(f.layout.ca_key());
    const std::string server_before = *keyauth::read_small_file(f.layout.server_cert());
    keyauth::InitOptions hosts;
    hosts.hosts = {"broker.example"};
    assert_ok(keyauth::initialize_registry(f.layout, hosts));
    assert_sv_equal(*keyauth::read_small_file(f.layout.ca_key()), ca_key_before);
    assert_true(*keyauth::read_small_file(f.layout.server_cert()) != server_before);
    assert_int_equal(permissions(f.layout.server_key()), 0640);
    assert_ok(keyauth::load_authority(f.layout));
    assert_int_equal(static_cast<int>(verdict_of(f, token)),
                     static_cast<int>(keyauth::Verdict::accepted));
}

void init_refuses_bad_options(void**) {
    TempDir dir;
    keyauth::InitOptions bad_days;
    bad_days.days = 0;
    assert_code(keyauth::initialize_registry({dir.path()}, bad_days), Errc::invalid_argument);
    keyauth::InitOptions bad_host;
    bad_host.hosts = {"bad host"};
    assert_code(keyauth::initialize_registry({dir.path()}, bad_host), Errc::invalid_argument);
    keyauth::InitOptions bad_group;
    bad_group.group = "no-such-group-keyauth";
    assert_code(keyauth::initialize_registry({dir.path()}, bad_group), Errc::invalid_argument);
    assert_false(keyauth::registry_initialized({dir.path()}));
}

void issued_token_is_accepted(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    const std::string token = issue(f, {"myapp01", 1095, false, std::nullopt});
    assert_int_equal(token.size(), 7 + 3 + 64);
    assert_int_equal(static_cast<int>(verdict_of(f, token)),
                     static_cast<int>(keyauth::Verdict::accepted));
    auto listed = f.registry->list();
    assert_int_equal(listed->size(), 1);
    assert_sv_equal((*listed)[0].id, "myapp01");
    const auto& validity = (*listed)[0].credentials.validity;
    assert_int_equal(validity.not_after - validity.not_before, 1095 * 86400LL);
}

void duplicate_is_refused_and_old_token_kept(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    const std::string first = issue(f, {"myapp01", 10, false, std::nullopt});
    Status status;
    bool delivered = false;
    status = keyauth::issue_client(
        *f.registry, *f.authority, {"myapp01", 10, false, std::nullopt}, keyauth::unix_now(),
        [&](const IssuedClient&) {
            delivered = true;
            return Status();
        },
        [] {});
    assert_code(status, Errc::already_exists);
    assert_sv_equal(status.error().message, "client myapp01 already exists");
    assert_false(delivered);
    assert_int_equal(static_cast<int>(verdict_of(f, first)),
                     static_cast<int>(keyauth::Verdict::accepted));
}

void force_replaces_token_and_certificate(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    const std::string first = issue(f, {"myapp01", 10, false, std::nullopt});
    const std::string second = issue(f, {"myapp01", 10, true, std::nullopt});
    assert_false(second.empty());
    assert_false(first == second);
    assert_int_equal(static_cast<int>(verdict_of(f, first)),
                     static_cast<int>(keyauth::Verdict::mismatch));
    assert_int_equal(static_cast<int>(verdict_of(f, second)),
                     static_cast<int>(keyauth::Verdict::accepted));
    assert_int_equal(f.registry->list()->size(), 1);
}

void failed_delivery_registers_nothing(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    Status status;
    issue(f, {"myapp01", 10, false, std::nullopt}, &status, false);
    assert_code(status, Errc::io_error);
    assert_int_equal(f.registry->list()->size(), 0);
    // And a failed --force keeps the old client.
    const std::string first = issue(f, {"myapp01", 10, false, std::nullopt});
    issue(f, {"myapp01", 10, true, std::nullopt}, &status, false);
    assert_code(status, Errc::io_error);
    assert_int_equal(static_cast<int>(verdict_of(f, first)),
                     static_cast<int>(keyauth::Verdict::accepted));
}

void issuance_refuses_bad_ids_and_days(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    Status status;
    for (const std::string& id :
         {std::string("a/b"), std::string(""), std::string("a\0b", 3), std::string(65, 'a')}) {
        issue(f, {id, 10, false, std::nullopt}, &status);
        assert_code(status, Errc::invalid_argument);
    }
    for (int days : {0, -5, keyauth::kMaxDays + 1}) {
        issue(f, {"myapp01", days, false, std::nullopt}, &status);
        assert_code(status, Errc::invalid_argument);
    }
    assert_int_equal(f.registry->list()->size(), 0);
}

void revoke_removes_the_client(void** state) {
    auto& f = *static_cast<Fixture*>(*state);
    const std::string token = issue(f, {"myapp01", 10, false, std::nullopt});
    assert_ok(keyauth::revoke_client(*f.registry, "myapp01"));
    assert_int_equal(static_cast<int>(verdict_of(f, token)),
                     static_cast<int>(keyauth::Verdict::unknown_client));
    const Status again = keyauth::revoke_client(*f.registry, "myapp01");
    assert_code(again, Errc::unknown_client);
    assert_sv_equal(again.error().message, "no client myapp01");
    assert_code(keyauth::revoke_client(*f.registry, "../x"), Errc::invalid_argument);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_lays_out_the_registry_with_spec_modes),
        unit_test_with(Fixture, init_refuses_an_initialized_registry),
        unit_test_with(Fixture, init_again_with_hosts_keeps_ca_and_clients),
        cmocka_unit_test(init_refuses_bad_options),
        unit_test_with(Fixture, issued_token_is_accepted),
        unit_test_with(Fixture, duplicate_is_refused_and_old_token_kept),
        unit_test_with(Fixture, force_replaces_token_and_certificate),
        unit_test_with(Fixture, failed_delivery_registers_nothing),
        unit_test_with(Fixture, issuance_refuses_bad_ids_and_days),
        unit_test_with(Fixture, revoke_removes_the_client),
    };
    return run_group(tests);
}
