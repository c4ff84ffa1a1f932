// keytool serve's request parsers and answers, without a server: what the
// page and API clients send, and the 400s they get back (docs/openapi.yaml).
// The JSON library brings <ios>, whose fail() CMocka's macro would rename:
// the console's headers come first.
#include "console/console_http.hpp"
#include "console/console_requests.hpp"
#include "console/console_server.hpp"
#include "console/console_session.hpp"
#include "keyauth/x509_authority.hpp"
#include "unit_test.hpp"

using keytool::console::check_listen;
using keytool::console::ConsoleSessions;
using keytool::console::days_until;
using keytool::console::error_response;
using keytool::console::HttpResponse;
using keytool::console::issue_request;
using keytool::console::json_response;
using keytool::console::listing_query;
using keytool::console::log_safe;
using keytool::console::LoginThrottle;
using keytool::console::parse_listen;
using keytool::console::QueryParams;
using keytool::console::rotate_request;
using keytool::console::ServeOptions;
using keytool::console::state_filter;
using keytool::console::unused_filter;

namespace {

constexpr std::int64_t kNoonNewYear2025 = 1735732800;  // 2025-01-01 12:00:00 UTC

template <class T>
void expect_refused(const keyauth::Result<T>& parsed, const char* message) {
    assert_false(parsed.ok());
    assert_code(parsed.status(), keyauth::Errc::invalid_argument);
    assert_string_equal(parsed.error().message.c_str(), message);
}

void a_listing_without_parameters_is_the_first_page_by_id(void**) {
    auto listing = listing_query({}, kNoonNewYear2025);
    assert_ok(listing);
    assert_int_equal(listing->offset, 0);
    assert_int_equal(listing->limit, 50);
    assert_true(listing->id_contains.empty());
    assert_false(listing->ending.has_value());
    assert_int_equal(static_cast<int>(listing->order), static_cast<int>(keyauth::ListOrder::id));
    assert_false(listing->descending);
}

void a_listing_reads_every_parameter(void**) {
    auto listing = listing_query({{"offset", "100"},
                                  {"limit", "1000"},
                                  {"q", "app_0"},
                                  {"sort", "-expire"},
                                  {"expiring", "30d"}},
                                 kNoonNewYear2025);
    assert_ok(listing);
    assert_int_equal(listing->offset, 100);
    assert_int_equal(listing->limit, 1000);
    assert_string_equal(listing->id_contains.c_str(), "app_0");
    assert_int_equal(static_cast<int>(listing->order),
                     static_cast<int>(keyauth::ListOrder::expire));
    assert_true(listing->descending);
    assert_true(listing->ending.has_value());
    assert_int_equal(listing->ending->now, kNoonNewYear2025);
    assert_int_equal(listing->ending->until, kNoonNewYear2025 + 30 * 86400);
}

void a_listing_refuses_what_it_cannot_read(void**) {
    expect_refused(listing_query({{"limit", "0"}}, 0),
                   "limit must be a whole number from 1 to 1000");
    expect_refused(listing_query({{"limit", "50x"}}, 0),
                   "limit must be a whole number from 1 to 1000");
    expect_refused(listing_query({{"offset", "-1"}}, 0),
                   "offset must be a whole number from 0 to 100000000");
    expect_refused(listing_query({{"offset", "x"}, {"limit", "0"}}, 0),
                   "limit must be a whole number from 1 to 1000");
    expect_refused(listing_query({{"q", "a/b"}}, 0),
                   "q must be up to 64 characters from A-Z a-z 0-9 . _ @ -");
    expect_refused(listing_query({{"q", std::string(65, 'a')}}, 0),
                   "q must be up to 64 characters from A-Z a-z 0-9 . _ @ -");
    expect_refused(listing_query({{"sort", "name"}}, 0),
                   "sort must be id, valid_from or expire, optionally after '-'");
    auto soon = listing_query({{"expiring", "soon"}}, 0);
    assert_false(soon.ok());
    assert_true(soon.error().message.rfind("expiring: ", 0) == 0);
}

void an_expiry_date_is_whole_days_after_today(void**) {
    auto days = days_until("2025-01-31", kNoonNewYear2025);
    assert_ok(days);
    assert_int_equal(*days, 30);
    assert_int_equal(*days_until("2025-01-02", kNoonNewYear2025), 1);
}

void an_expiry_date_must_be_a_real_day_after_today(void**) {
    const char* bad = "expire must be a date YYYY-MM-DD after today";
    expect_refused(days_until("2027-02-30", kNoonNewYear2025), bad);
    expect_refused(days_until("2027-13-01", kNoonNewYear2025), bad);
    expect_refused(days_until("2027/01/01", kNoonNewYear2025), bad);
    expect_refused(days_until("27-01-01", kNoonNewYear2025), bad);
    expect_refused(days_until("2025-01-01", kNoonNewYear2025),
                   "expire must be after today and within 36500 days");
    expect_refused(days_until("2300-01-01", kNoonNewYear2025),
                   "expire must be after today and within 36500 days");
}

void a_new_client_body_gives_id_validity_and_force(void**) {
    auto request = issue_request(R"({"id":"myapp01","days":30,"force":true})", kNoonNewYear2025);
    assert_ok(request);
    assert_string_equal(request->client_id.c_str(), "myapp01");
    assert_int_equal(request->days, 30);
    assert_true(request->replace);

    auto by_date = issue_request(R"({"id":"myapp01","expire":"2025-01-11"})", kNoonNewYear2025);
    assert_ok(by_date);
    assert_int_equal(by_date->days, 10);
    assert_false(by_date->replace);

    auto defaults = issue_request(R"({"id":"myapp01"})", kNoonNewYear2025);
    assert_ok(defaults);
    assert_int_equal(defaults->days, keyauth::IssueRequest().days);
}

void a_new_client_body_holds_nothing_else(void**) {
    const std::int64_t now = kNoonNewYear2025;
    expect_refused(issue_request("not json", now), "the body must be a JSON object");
    expect_refused(issue_request(R"(["myapp01"])", now), "the body must be a JSON object");
    expect_refused(issue_request("{}", now), "id is required");
    expect_refused(issue_request(R"({"id":7})", now),
                   "unexpected field \"id\" (id, days, expire, force)");
    expect_refused(issue_request(R"({"id":"myapp01","owner":"me"})", now),
                   "unexpected field \"owner\" (id, days, expire, force)");
    expect_refused(issue_request(R"({"id":"myapp01","days":30,"expire":"2025-02-01"})", now),
                   "give days (a whole number) or expire (YYYY-MM-DD), not both");
    expect_refused(issue_request(R"({"id":"myapp01","days":0})", now),
                   "days must be a whole number from 1 to 36500");
    auto bad_id = issue_request(R"({"id":"my/app"})", now);
    assert_false(bad_id.ok());
    assert_code(bad_id.status(), keyauth::Errc::invalid_argument);
}

void a_rotation_body_gives_grace_and_validity(void**) {
    auto request = rotate_request("myapp01", R"({"grace":"7d","days":30})", kNoonNewYear2025);
    assert_ok(request);
    assert_string_equal(request->client_id.c_str(), "myapp01");
    assert_true(request->rotate_grace.has_value());
    assert_int_equal(*request->rotate_grace, 7 * 86400);
    assert_int_equal(request->days, 30);
    assert_false(request->replace);

    auto by_date =
        rotate_request("myapp01", R"({"expire":"2025-01-11","grace":"12h"})", kNoonNewYear2025);
    assert_ok(by_date);
    assert_int_equal(by_date->days, 10);
    assert_int_equal(*by_date->rotate_grace, 12 * 3600);

    // keytool rotate without --grace: a rotation still, the old credentials
    // ending at once; an empty body is the same as {}.
    for (const char* body : {"", "{}"}) {
        auto defaults = rotate_request("myapp01", body, kNoonNewYear2025);
        assert_ok(defaults);
        assert_true(defaults->rotate_grace.has_value());
        assert_int_equal(*defaults->rotate_grace, 0);
        assert_int_equal(defaults->days, keyauth::IssueRequest().days);
    }
    auto longest = rotate_request("myapp01", R"({"grace":"366d"})", kNoonNewYear2025);
    assert_ok(longest);
}

void a_rotation_body_holds_nothing_else(void**) {
    const std::int64_t now = kNoonNewYear2025;
    expect_refused(rotate_request("myapp01", "not json", now), "the body must be a JSON object");
    expect_refused(rotate_request("myapp01", "[]", now), "the body must be a JSON object");
    expect_refused(rotate_request("myapp01", R"({"grace":7})", now),
                   "grace must be a duration such as 7d or 12h");
    expect_refused(rotate_request("myapp01", R"({"grace":"7 days"})", now),
                   "grace: a duration is a whole number with s, m, h or d (90s, 12h, 30d) or 0, "
                   "at most 36500d: not '7 days'");
    expect_refused(rotate_request("myapp01", R"({"grace":"367d"})", now),
                   "the grace must be between 0 and 366 days");
    expect_refused(rotate_request("myapp01", R"({"id":"other"})", now),
                   "unexpected field \"id\" (grace, days, expire)");
    expect_refused(rotate_request("myapp01", R"({"force":true})", now),
                   "unexpected field \"force\" (grace, days, expire)");
    expect_refused(rotate_request("myapp01", R"({"days":30,"expire":"2025-02-01"})", now),
                   "give days (a whole number) or expire (YYYY-MM-DD), not both");
    expect_refused(rotate_request("myapp01", R"({"days":0})", now),
                   "days must be a whole number from 1 to 36500");
    auto bad_id = rotate_request("my app", "{}", now);
    assert_false(bad_id.ok());
    assert_code(bad_id.status(), keyauth::Errc::invalid_argument);
}

void a_state_filter_names_one_state(void**) {
    auto none = state_filter({});
    assert_ok(none);
    assert_false(none->has_value());
    auto empty = state_filter({{"state", ""}});
    assert_ok(empty);
    assert_false(empty->has_value());
    const std::pair<const char*, keyauth::ClientState> states[] = {
        {"active", keyauth::ClientState::active},
        {"suspended", keyauth::ClientState::suspended},
        {"expired", keyauth::ClientState::expired},
        {"not yet valid", keyauth::ClientState::not_yet_valid},
    };
    for (const auto& [name, expected] : states) {
        auto parsed = state_filter({{"state", name}});
        assert_ok(parsed);
        assert_true(parsed->has_value());
        assert_int_equal(static_cast<int>(**parsed), static_cast<int>(expected));
    }
    expect_refused(state_filter({{"state", "Suspended"}}),
                   "state must be active, suspended, expired or not yet valid");
    expect_refused(state_filter({{"state", "revoked"}}),
                   "state must be active, suspended, expired or not yet valid");
}

void an_unused_filter_takes_list_unuseds_durations(void**) {
    auto none = unused_filter({});
    assert_ok(none);
    assert_false(none->has_value());
    auto empty = unused_filter({{"unused", ""}});
    assert_ok(empty);
    assert_false(empty->has_value());
    auto days = unused_filter({{"unused", "90d"}});
    assert_ok(days);
    assert_int_equal(**days, 90 * 86400);
    auto zero = unused_filter({{"unused", "0"}});
    assert_ok(zero);
    assert_int_equal(**zero, 0);
    expect_refused(unused_filter({{"unused", "bogus"}}),
                   "unused: a duration is a whole number with s, m, h or d (90s, 12h, 30d) or 0, "
                   "at most 36500d: not 'bogus'");
    assert_false(unused_filter({{"unused", "-1d"}}).ok());
    assert_false(unused_filter({{"unused", "36501d"}}).ok());
}

void errors_answer_with_the_status_that_fits(void**) {
    using keyauth::Errc;
    using keyauth::make_error;
    const HttpResponse bad = error_response(make_error(Errc::invalid_argument, "id is required"));
    assert_int_equal(bad.status, 400);
    assert_string_equal(bad.content_type.c_str(), "application/json");
    assert_sv_equal(bad.body.view(), R"({"error":"id is required"})");
    assert_int_equal(error_response(make_error(Errc::unknown_client, "unknown client")).status,
                     404);
    assert_int_equal(error_response(make_error(Errc::already_exists, "exists")).status, 409);
    assert_int_equal(error_response(make_error(Errc::io_error, "disk")).status, 500);
}

void json_answers_are_compact_escaped_and_never_throw(void**) {
    const HttpResponse quoted = error_response(413, "a \"big\" body\n");
    assert_sv_equal(quoted.body.view(), R"({"error":"a \"big\" body\n"})");
    // Bytes that are not UTF-8 would make the JSON library throw out of the
    // server's callback: they are replaced instead.
    const HttpResponse odd = error_response(400, "id \xff");
    assert_sv_equal(odd.body.view(), "{\"error\":\"id \xef\xbf\xbd\"}");
    const HttpResponse ordered = json_response(200, {{"id", "myapp01"}, {"deleted", true}});
    assert_sv_equal(ordered.body.view(), R"({"id":"myapp01","deleted":true})");
}

void listen_takes_an_address_and_a_port(void**) {
    auto v4 = parse_listen("127.0.0.1:5688", ServeOptions());
    assert_ok(v4);
    assert_string_equal(v4->address.c_str(), "127.0.0.1");
    assert_int_equal(v4->port, 5688);
    auto v6 = parse_listen("[::1]:0", ServeOptions());
    assert_ok(v6);
    assert_string_equal(v6->address.c_str(), "::1");
    assert_int_equal(v6->port, 0);
    const char* usage = "--listen takes ADDR:PORT (127.0.0.1:5688, [::1]:5688)";
    expect_refused(parse_listen("127.0.0.1", ServeOptions()), usage);
    expect_refused(parse_listen("127.0.0.1:65536", ServeOptions()), usage);
    expect_refused(parse_listen("[::1:80", ServeOptions()), usage);
    expect_refused(parse_listen("localhost:80", ServeOptions()),
                   "--listen needs an IP address, not a name: localhost");
}

void logged_text_is_escaped_to_one_printable_line(void**) {
    assert_string_equal(log_safe("/api/v1/clients").c_str(), "/api/v1/clients");
    assert_string_equal(log_safe("/x\nkeytool serve: forged\r").c_str(),
                        "/x\\x0akeytool serve: forged\\x0d");
    assert_string_equal(log_safe("\x1b[2J\"\\\xc3\xa9\x7f").c_str(),
                        "\\x1b[2J\\x22\\x5c\\xc3\\xa9\\x7f");
    const std::string long_path(2000, 'a');
    assert_int_equal(log_safe(long_path).size(), 512 + 3);
}

void a_session_ends_after_its_lifetime_however_busy(void**) {
    ConsoleSessions sessions;
    const std::string secret(sessions.login_secret());
    auto cookie = sessions.log_in(secret, kNoonNewYear2025);
    assert_true(cookie.has_value());
    // Used every half hour: never idle, yet over after 12 hours.
    std::int64_t now = kNoonNewYear2025;
    for (; now <= kNoonNewYear2025 + keytool::console::kSessionMaxSeconds; now += 1800)
        assert_true(sessions.has_session(cookie->view(), now));
    assert_false(sessions.has_session(cookie->view(), now));
    assert_true(sessions.label().empty());
}

void a_session_ends_when_idle(void**) {
    ConsoleSessions sessions;
    const std::string secret(sessions.login_secret());
    auto cookie = sessions.log_in(secret, kNoonNewYear2025);
    assert_true(cookie.has_value());
    assert_false(sessions.has_session(
        cookie->view(), kNoonNewYear2025 + keytool::console::kSessionIdleSeconds + 1));
}

void wrong_logins_from_one_address_are_throttled_for_a_minute(void**) {
    LoginThrottle throttle;
    for (int i = 0; i < keytool::console::kLoginFailuresPerMinute; ++i) {
        assert_true(throttle.allowed("127.0.0.2", kNoonNewYear2025 + i));
        throttle.failed("127.0.0.2", kNoonNewYear2025 + i);
    }
    assert_false(throttle.allowed("127.0.0.2", kNoonNewYear2025 + 30));
    assert_true(throttle.allowed("127.0.0.3", kNoonNewYear2025 + 30));  // another address
    assert_true(throttle.allowed("127.0.0.2", kNoonNewYear2025 + 60));  // a new minute
    throttle.failed("127.0.0.2", kNoonNewYear2025 + 60);
    assert_true(throttle.allowed("127.0.0.2", kNoonNewYear2025 + 61));
}

void listening_beyond_loopback_needs_tls(void**) {
    ServeOptions options;
    assert_ok(check_listen(options));
    options.address = "127.0.0.2";
    assert_ok(check_listen(options));
    options.address = "::1";
    assert_ok(check_listen(options));
    for (const char* address : {"0.0.0.0", "::", "192.0.2.7", "::ffff:127.0.0.1"}) {
        options.address = address;
        options.tls = false;
        const keyauth::Status refused = check_listen(options);
        assert_false(refused.ok());
        assert_non_null(std::strstr(refused.error().message.c_str(), "add --tls"));
        options.tls = true;
        assert_ok(check_listen(options));
    }
    options.hosts = {"console.example", "192.0.2.7", "::1"};
    assert_ok(check_listen(options));
    for (const char* host : {"console.example:443", "*.example.com", "", "a b"}) {
        options.hosts = {host};
        assert_false(check_listen(options).ok());
    }
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_listing_without_parameters_is_the_first_page_by_id),
        cmocka_unit_test(a_listing_reads_every_parameter),
        cmocka_unit_test(a_listing_refuses_what_it_cannot_read),
        cmocka_unit_test(an_expiry_date_is_whole_days_after_today),
        cmocka_unit_test(an_expiry_date_must_be_a_real_day_after_today),
        cmocka_unit_test(a_new_client_body_gives_id_validity_and_force),
        cmocka_unit_test(a_new_client_body_holds_nothing_else),
        cmocka_unit_test(a_rotation_body_gives_grace_and_validity),
        cmocka_unit_test(a_rotation_body_holds_nothing_else),
        cmocka_unit_test(a_state_filter_names_one_state),
        cmocka_unit_test(errors_answer_with_the_status_that_fits),
        cmocka_unit_test(json_answers_are_compact_escaped_and_never_throw),
        cmocka_unit_test(listen_takes_an_address_and_a_port),
        cmocka_unit_test(logged_text_is_escaped_to_one_printable_line),
        cmocka_unit_test(a_session_ends_after_its_lifetime_however_busy),
        cmocka_unit_test(a_session_ends_when_idle),
        cmocka_unit_test(wrong_logins_from_one_address_are_throttled_for_a_minute),
        cmocka_unit_test(listening_beyond_loopback_needs_tls),
        cmocka_unit_test(an_unused_filter_takes_list_unuseds_durations),
    };
    return run_group(tests);
}
