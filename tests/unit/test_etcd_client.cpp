// What the etcd client makes of etcd's refusals: a login that fails is
// Errc::authentication_failed, and only a request etcd refuses with gRPC
// PERMISSION_DENIED is Errc::permission_denied (readers take that one as
// "this role may not read it, go on": a wrong password must not pass for it).
// Against a canned JSON gateway on loopback: no etcd needed.
#include "unit_test.hpp"

#include <atomic>
#include <string>

#include "fake_etcd_gateway.hpp"
#include "keyauth/etcd_client.hpp"

namespace {

// etcd's own words, as its gateway sends them.
const Answer kLoggedIn{200, R"({"header":{"revision":"5"},"token":"tok.1"})"};
const Answer kWrongPassword{
    400, R"({"error":"etcdserver: authentication failed, invalid user ID or password",)"
         R"("code":3,"message":"etcdserver: authentication failed, invalid user ID or password"})"};
const Answer kTokenRefused{
    401,
    R"({"error":"etcdserver: invalid auth token","code":16,"message":"etcdserver: invalid auth token"})"};
const Answer kKeyRefused{
    403,
    R"({"error":"etcdserver: permission denied","code":7,"message":"etcdserver: permission denied"})"};
const Answer kRange{200, R"({"header":{"revision":"5","cluster_id":"1"},"count":"0"})"};

keyauth::Result<keyauth::EtcdRange> range_through(FakeGateway& gateway, bool with_user) {
    keyauth::EtcdOptions options;
    options.endpoints = {gateway.endpoint()};
    if (with_user) {
        options.user = "keyauth-admin";
        options.password = keyauth::SecretString(std::string("not-the-password"));
    }
    options.request_timeout = std::chrono::milliseconds(3000);
    auto client = keyauth::EtcdClient::connect(std::move(options));
    assert_true(client.ok());
    return (*client)->range("/keyauth-usage-hosts/f/", "/keyauth-usage-hosts/f0");
}

void wrong_password_is_authentication_failed(void**) {
    FakeGateway gateway([](const std::string& path) {
        return path == "/v3/auth/authenticate" ? kWrongPassword : kRange;
    });
    auto read = range_through(gateway, true);
    assert_false(read.ok());
    assert_code(read.status(), keyauth::Errc::authentication_failed);
    assert_true(read.error().message.find("etcd refused user keyauth-admin") != std::string::npos);
    assert_true(read.error().message.find("not-the-password") == std::string::npos);
    assert_int_equal(gateway.paths().size(), 1);  // no range sent without a login
}

void key_refused_is_permission_denied(void**) {
    FakeGateway gateway([](const std::string& path) {
        return path == "/v3/auth/authenticate" ? kLoggedIn : kKeyRefused;
    });
    auto read = range_through(gateway, true);
    assert_false(read.ok());
    assert_code(read.status(), keyauth::Errc::permission_denied);
}

// The token expired (etcd's simple tokens last 5 minutes by default) and the
// password was rotated since: the login again fails.
void token_expired_then_login_refused_is_authentication_failed(void**) {
    std::atomic<int> logins{0};
    FakeGateway gateway([&logins](const std::string& path) {
        if (path == "/v3/auth/authenticate")
            return ++logins == 1 ? kLoggedIn : kWrongPassword;
        return kTokenRefused;
    });
    auto read = range_through(gateway, true);
    assert_false(read.ok());
    assert_code(read.status(), keyauth::Errc::authentication_failed);
    assert_int_equal(logins.load(), 2);
}

void token_refused_after_login_afresh_is_authentication_failed(void**) {
    std::atomic<int> logins{0};
    FakeGateway gateway([&logins](const std::string& path) {
        if (path == "/v3/auth/authenticate") {
            ++logins;
            return kLoggedIn;
        }
        return kTokenRefused;
    });
    auto read = range_through(gateway, true);
    assert_false(read.ok());
    assert_code(read.status(), keyauth::Errc::authentication_failed);
    assert_int_equal(logins.load(), 2);  // logged in afresh once, not forever
}

void token_wanted_without_a_user_is_authentication_failed(void**) {
    FakeGateway gateway([](const std::string&) { return kTokenRefused; });
    auto read = range_through(gateway, false);
    assert_false(read.ok());
    assert_code(read.status(), keyauth::Errc::authentication_failed);
}

void login_then_range_answers(void**) {
    FakeGateway gateway([](const std::string& path) {
        return path == "/v3/auth/authenticate" ? kLoggedIn : kRange;
    });
    auto read = range_through(gateway, true);
    assert_ok(read.status());
    assert_int_equal(read->revision, 5);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_password_is_authentication_failed),
        cmocka_unit_test(key_refused_is_permission_denied),
        cmocka_unit_test(token_expired_then_login_refused_is_authentication_failed),
        cmocka_unit_test(token_refused_after_login_afresh_is_authentication_failed),
        cmocka_unit_test(token_wanted_without_a_user_is_authentication_failed),
        cmocka_unit_test(login_then_range_answers),
    };
    return run_group(tests);
}
