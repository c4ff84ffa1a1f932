// What the etcd client makes of etcd's refusals: a login that fails is
// Errc::authentication_failed, and only a request etcd refuses with gRPC
// PERMISSION_DENIED is Errc::permission_denied (readers take that one as
// "this role may not read it, go on": a wrong password must not pass for it).
// And what it takes from the lines of a watch stream, hostile ones included.
// Against a canned JSON gateway on loopback: no etcd needed.
#include "unit_test.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
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

// A watch stream: the gateway's answer, one JSON object a line, then the
// connection closed (the watch then ends in an error, after every batch).
struct Watched {
    keyauth::Status status;
    std::vector<keyauth::EtcdWatchBatch> batches;
    std::vector<keyauth::EtcdEvent> events() const {
        std::vector<keyauth::EtcdEvent> all;
        for (const auto& batch : batches)
            all.insert(all.end(), batch.events.begin(), batch.events.end());
        return all;
    }
};

Watched watch_through(const std::string& stream) {
    FakeGateway gateway([&stream](const std::string&) { return Answer{200, stream}; });
    keyauth::EtcdOptions options;
    options.endpoints = {gateway.endpoint()};
    auto client = keyauth::EtcdClient::connect(std::move(options));
    assert_true(client.ok());
    Watched watched;
    watched.status = (*client)->watch(
        "/keyauth/", "/keyauth0", 1,
        [&watched](const keyauth::EtcdWatchBatch& batch) {
            watched.batches.push_back(batch);
            return true;
        },
        std::chrono::minutes(5), [] { return false; });
    return watched;
}

std::string base64_of(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t group = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size())
            group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        if (i + 2 < bytes.size())
            group |= static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[group >> 18];
        out += kAlphabet[(group >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(group >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[group & 63] : '=';
    }
    return out;
}

// An event as the gateway writes it; `type` empty: left out (proto3's PUT).
std::string event_json(const std::string& key, std::int64_t revision,
                       const std::string& type = "") {
    return std::string("{") + (type.empty() ? "" : "\"type\":\"" + type + "\",") +
           R"("kv":{"key":")" + base64_of(key) + R"(","create_revision":")" +
           std::to_string(revision) + R"(","mod_revision":")" + std::to_string(revision) +
           R"(","version":"1","value":")" + base64_of("record of " + key) + "\"}}";
}

std::string events_line(std::int64_t revision, const std::vector<std::string>& events) {
    std::string line = R"({"result":{"header":{"cluster_id":"1","revision":")" +
                       std::to_string(revision) + R"("},"events":[)";
    for (std::size_t i = 0; i < events.size(); ++i)
        line += (i ? "," : "") + events[i];
    return line + "]}}\n";
}

bool refused_saying(const Watched& watched, std::string_view words) {
    return !watched.status.ok() && watched.status.error().message.find(words) != std::string::npos;
}

// Objects with a kv anywhere but in result.events are no events.
void watch_events_only_from_result_events(void**) {
    const std::string decoy = event_json("/keyauth/clients/decoy", 7);
    const Watched watched = watch_through(
        R"({"result":{"header":{"revision":"7"},"events":[)" + event_json("/keyauth/clients/a", 7) +
        R"(],"other":[)" + decoy + R"(],"nested":{"events":[)" + decoy + R"(]}},"events":[)" +
        decoy + R"(],"x":{"result":{"events":[)" + decoy + "]}}}\n");
    const auto events = watched.events();
    assert_int_equal(events.size(), 1);
    assert_sv_equal(events[0].kv.key, "/keyauth/clients/a");
    assert_int_equal(watched.batches[0].header_revision, 7);
}

// A line of 500 000 `{}` wherever they are allowed, or refused at the first
// where they are not: read once each. Looked through again as each ends
// (the DOM parser's callback), they took ~15 minutes each here; read in a
// line's time, well under a second. The bound is that far from both.
void many_empty_objects_read_in_linear_time(void**) {
    constexpr int kObjects = 500000;
    std::string many = "{}";
    for (int i = 1; i < kObjects; ++i)
        many += ",{}";
    const std::string ok_event = event_json("/keyauth/clients/a", 7);
    const std::vector<std::string> accepted = {
        R"({"result":{"header":{"revision":"7"},"junk":[)" + many + "]}}\n",
        R"({"result":{"header":{"revision":"7"}},"junk":[)" + many + "]}\n",
        R"({"result":{"header":{"revision":"7"},"events":[{"kv":{"key":"YQ==","mod_revision":"7"},"junk":[)" +
            many + "]}]}}\n",
        R"({"result":{"header":{"revision":"7"},"events":[)" + ok_event + R"(]},"x":{"a":[[)" +
            many + "]]}}\n",
    };
    const auto started = std::chrono::steady_clock::now();
    for (const std::string& line : accepted) {
        const Watched watched = watch_through(line);
        assert_int_equal(watched.batches.size(), 1);
        assert_int_equal(watched.batches[0].header_revision, 7);
    }
    const Watched in_error =
        watch_through(R"({"error":{"message":"no leader","x":[)" + many + "]}}\n");
    assert_true(refused_saying(in_error, "no leader"));
    const Watched as_events = watch_through(R"({"result":{"events":[)" + many + "]}}\n");
    assert_true(refused_saying(as_events, "an event that is not an object with a kv"));
    assert_true(std::chrono::steady_clock::now() - started < std::chrono::seconds(60));
}

void two_results_refused(void**) {
    const std::string one = R"("result":{"header":{"revision":"7"},"events":[)" +
                            event_json("/keyauth/clients/a", 7) + "]}";
    const Watched watched = watch_through("{" + one + "," + one + "}\n");
    assert_true(refused_saying(watched, "two results in one response"));
    assert_int_equal(watched.batches.size(), 0);
}

// A line cut short, text that is no JSON, more after the object, no object,
// events that are not objects with a kv, a key that is not base64: the
// watch ends in an error and nothing of the line is handed on.
void truncated_and_garbage_lines_refused(void**) {
    const std::string event = event_json("/keyauth/clients/a", 7);
    const std::string whole = events_line(7, {event});
    const std::string cut = whole.substr(0, whole.size() - 4) + "\n";
    for (const std::string& line :
         {cut, std::string("not json\n"), whole.substr(0, whole.size() - 1) + " {}\n",
          std::string("[1]\n"), std::string("\"result\"\n")}) {
        const Watched watched = watch_through(line);
        assert_true(refused_saying(watched, "etcd watch: not JSON"));
        assert_int_equal(watched.batches.size(), 0);
    }
    for (const std::string& events : {std::string("1"), std::string("[]"), std::string("{}"),
                                      std::string(R"({"kv":"a"})"), std::string(R"({"kv":[]})")}) {
        const Watched watched = watch_through(events_line(7, {event, events}));
        assert_true(refused_saying(watched, "an event that is not an object with a kv"));
        assert_int_equal(watched.batches.size(), 0);
    }
    const Watched bad_key =
        watch_through(events_line(7, {R"({"kv":{"key":"no*base64","mod_revision":"7"}})"}));
    assert_true(refused_saying(bad_key, "bad base64 key"));
    const Watched result_not_object = watch_through("{\"result\":7}\n");
    assert_true(refused_saying(result_not_object, "a result that is not an object"));
    // The stream ends inside a line: never handed on, whatever it held.
    const Watched ended = watch_through(whole + whole.substr(0, whole.size() - 1));
    assert_int_equal(ended.events().size(), 1);
}

// One revision is one line, however long (a del --prefix of a million
// clients: 92 MB): the pieces the transport cuts it into are read as one.
void long_line_cut_by_the_transport_read_whole(void**) {
    constexpr int kEvents = 20000;  // ~4 MB: hundreds of reads
    std::vector<std::string> events;
    for (int i = 0; i < kEvents; ++i)
        events.push_back(event_json("/keyauth/clients/c" + std::to_string(i), 9, "DELETE"));
    const std::string line = events_line(9, events);
    assert_true(line.size() > (1u << 20));
    const Watched watched = watch_through(line);
    const auto taken = watched.events();
    assert_int_equal(taken.size(), kEvents);
    assert_sv_equal(taken.front().kv.key, "/keyauth/clients/c0");
    assert_sv_equal(taken.back().kv.key, "/keyauth/clients/c" + std::to_string(kEvents - 1));
}

// Keys and values are bytes, base64'd; the JSON around them may escape any
// character (`\/` for base64's slash, \u for any).
void keys_and_values_with_escapes(void**) {
    const std::string key("/keyauth/clients/a\"b\\c\n\0\xff", 26);
    const std::string value("\0\x01\xfe\"\\/", 6);
    std::string key64 = base64_of(key);
    std::string escaped;
    for (char c : key64)
        escaped += c == '/' ? std::string("\\/") : std::string(1, c);
    escaped.replace(0, 1,
                    "\\u00" + std::to_string(static_cast<int>(key64[0]) / 16) +
                        "0123456789abcdef"[key64[0] % 16]);
    const Watched watched = watch_through(
        events_line(7, {R"({"kv":{"key":")" + escaped + R"(","value":")" + base64_of(value) +
                        R"(","mod_revision":"7","create_revision":"6"}})"}));
    const auto events = watched.events();
    assert_int_equal(events.size(), 1);
    assert_sv_equal(events[0].kv.key, key);
    assert_sv_equal(events[0].kv.value, value);
    assert_int_equal(events[0].kv.create_revision, 6);
    assert_int_equal(events[0].kv.mod_revision, 7);
}

void delete_and_put_told_apart(void**) {
    const Watched watched = watch_through(events_line(
        8, {event_json("/keyauth/clients/a", 8, "DELETE"), event_json("/keyauth/clients/b", 8),
            event_json("/keyauth/clients/c", 8, "PUT")}));
    const auto events = watched.events();
    assert_int_equal(events.size(), 3);
    assert_true(events[0].deleted);
    assert_false(events[1].deleted);
    assert_false(events[2].deleted);
}

// A compaction or a cancellation is handed on alone, never joined to the
// changes around it; an error line ends the watch with etcd's words.
void compaction_and_cancel_answers(void**) {
    const Watched watched = watch_through(
        events_line(7, {event_json("/keyauth/clients/a", 7)}) +
        R"({"result":{"header":{"revision":"9"},"compact_revision":"8","canceled":true}})"
        "\n" +
        events_line(9, {event_json("/keyauth/clients/b", 9)}));
    assert_int_equal(watched.batches.size(), 3);
    assert_int_equal(watched.batches[0].events.size(), 1);
    assert_int_equal(watched.batches[1].compact_revision, 8);
    assert_true(watched.batches[1].canceled);
    assert_int_equal(watched.batches[1].events.size(), 0);
    assert_int_equal(watched.batches[1].header_revision, 9);
    assert_int_equal(watched.batches[2].events.size(), 1);
    assert_false(watched.batches[2].canceled);
    const Watched canceled_only =
        watch_through(R"({"result":{"header":{"revision":"9"},"canceled":true}})"
                      "\n");
    assert_int_equal(canceled_only.batches.size(), 1);
    assert_true(canceled_only.batches[0].canceled);
    assert_int_equal(canceled_only.batches[0].compact_revision, 0);
    const Watched error = watch_through(
        R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})"
        "\n");
    assert_true(refused_saying(error, "etcdserver: no leader"));
    assert_int_equal(error.batches.size(), 0);
}

// One watch session of `session` through `first` then `second`, then a
// range: what the watch said, its batches, and the endpoint the range used.
struct SessionThenRange {
    keyauth::Status watched;
    int batches = 0;
    std::string range_endpoint;
};

SessionThenRange session_then_range(const std::string& first, const std::string& second) {
    keyauth::EtcdOptions options;
    options.endpoints = {first, second};
    options.request_timeout = std::chrono::milliseconds(3000);
    auto client = keyauth::EtcdClient::connect(std::move(options));
    assert_true(client.ok());
    SessionThenRange result;
    result.watched = (*client)->watch(
        "/keyauth/", "/keyauth0", 1,
        [&result](const keyauth::EtcdWatchBatch&) {
            ++result.batches;
            return true;
        },
        std::chrono::milliseconds(1000), [] { return false; });  // the shortest judged silent
    result.range_endpoint = (*client)->endpoint();
    assert_ok((*client)->range("/keyauth/", "/keyauth0").status());
    return result;
}

// A member that holds the watch's connection open and sends nothing, not
// even the "created" line a live gateway sends at once, for a whole
// session: an error, and the next request goes to the next endpoint
// (before, the session "succeeded" and the watcher stayed on it).
void silent_member_fails_the_session_and_is_left(void**) {
    SilentMember silent;
    FakeGateway next([](const std::string&) { return kRange; });
    const SessionThenRange result = session_then_range(silent.endpoint(), next.endpoint());
    assert_false(result.watched.ok());
    assert_true(result.watched.error().message.find("no answer to a watch") != std::string::npos);
    assert_int_equal(result.batches, 0);
    assert_string_equal(result.range_endpoint.c_str(), next.endpoint().c_str());
    assert_int_equal(next.paths().size(), 1);
}

// A member that answered "created" and has nothing more to send in the
// session: alive, the session a success, the member kept.
void created_then_quiet_session_keeps_the_member(void**) {
    FakeGateway watched([](const std::string& path) {
        return path != "/v3/watch"
                   ? kRange
                   : Answer{200,
                            R"({"result":{"header":{"revision":"5"},"created":true}})"
                            "\n",
                            true};
    });
    FakeGateway other([](const std::string&) { return kRange; });
    const SessionThenRange result = session_then_range(watched.endpoint(), other.endpoint());
    assert_ok(result.watched);
    assert_int_equal(result.batches, 1);
    assert_string_equal(result.range_endpoint.c_str(), watched.endpoint().c_str());
    assert_int_equal(other.paths().size(), 0);
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
        cmocka_unit_test(watch_events_only_from_result_events),
        cmocka_unit_test(many_empty_objects_read_in_linear_time),
        cmocka_unit_test(two_results_refused),
        cmocka_unit_test(truncated_and_garbage_lines_refused),
        cmocka_unit_test(long_line_cut_by_the_transport_read_whole),
        cmocka_unit_test(keys_and_values_with_escapes),
        cmocka_unit_test(delete_and_put_told_apart),
        cmocka_unit_test(compaction_and_cancel_answers),
        cmocka_unit_test(silent_member_fails_the_session_and_is_left),
        cmocka_unit_test(created_then_quiet_session_keeps_the_member),
    };
    return run_group(tests);
}
