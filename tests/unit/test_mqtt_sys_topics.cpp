// The Mosquitto plugin's $SYS/broker/keyauth/ counters: what each event
// counts, and that a publication sends every topic once, then only those
// whose value changed. The broker's publish is replaced by a recorder.
#include "unit_test.hpp"

#include <chrono>
#include <map>
#include <string>

#include "broker_api.hpp"
#include "sys_topics.hpp"

using keyauth::CredentialKind;
using keyauth::Verdict;
using keyauth::mqtt::SysTopics;

namespace {

std::map<std::string, std::string> sent;  // one publication: topic -> payload
int retained_qos0 = 0;

using Clock = std::chrono::steady_clock;
const Clock::time_point kStart = Clock::now();

std::map<std::string, std::string> publish(SysTopics& sys, Clock::time_point at,
                                           std::size_t tracked) {
    sent.clear();
    sys.publish_when_due(at, tracked);
    return sent;
}

void every_topic_once_at_start(void**) {
    SysTopics sys(10);
    retained_qos0 = 0;
    auto first = publish(sys, kStart, 0);
    // 12 verdicts for each of two credentials (a mismatch counts as an
    // unknown client), 12 cut reasons, 3 totals, the cache's hits and misses.
    assert_int_equal(first.size(), 2 * 12 + 12 + 3 + 2);
    assert_int_equal(retained_qos0, static_cast<int>(first.size()));
    assert_string_equal(first.at("$SYS/broker/keyauth/connects/token/accepted").c_str(), "0");
    assert_string_equal(first.at("$SYS/broker/keyauth/connects/certificate/suspended").c_str(),
                        "0");
    assert_true(first.count("$SYS/broker/keyauth/sessions/cut/unknown_client") == 1);
    assert_true(first.count("$SYS/broker/keyauth/sessions/cut/accepted") == 0);
    assert_true(first.count("$SYS/broker/keyauth/connects/token/mismatch") == 0);
    assert_true(first.count("$SYS/broker/keyauth/sessions/cut/mismatch") == 1);
    assert_true(first.count("$SYS/broker/keyauth/sessions/tracked") == 1);
    assert_true(first.count("$SYS/broker/keyauth/registry/errors") == 1);
    assert_string_equal(first.at("$SYS/broker/keyauth/verification_cache/hits").c_str(), "0");
    assert_string_equal(first.at("$SYS/broker/keyauth/verification_cache/misses").c_str(), "0");
}

void then_only_what_changed_when_due(void**) {
    SysTopics sys(10);
    publish(sys, kStart, 0);
    sys.connect(CredentialKind::token, Verdict::accepted);
    sys.connect(CredentialKind::token, Verdict::accepted);
    sys.connect(CredentialKind::certificate, Verdict::registry_error);
    sys.connect(CredentialKind::token, Verdict::mismatch);
    sys.session_cut(Verdict::unknown_client);
    sys.verification_cache(keyauth::CacheUse::miss);
    sys.verification_cache(keyauth::CacheUse::hit);
    sys.verification_cache(keyauth::CacheUse::hit);
    sys.verification_cache(keyauth::CacheUse::not_consulted);  // a certificate: neither
    assert_true(publish(sys, kStart + std::chrono::seconds(9), 2).empty());  // not due
    auto changed = publish(sys, kStart + std::chrono::seconds(10), 2);
    const std::map<std::string, std::string> expected = {
        {"$SYS/broker/keyauth/connects/token/accepted", "2"},
        {"$SYS/broker/keyauth/connects/certificate/registry_error", "1"},
        {"$SYS/broker/keyauth/connects/token/unknown_client", "1"},  // the mismatch
        {"$SYS/broker/keyauth/registry/errors", "1"},
        {"$SYS/broker/keyauth/sessions/cut", "1"},
        {"$SYS/broker/keyauth/sessions/cut/unknown_client", "1"},
        {"$SYS/broker/keyauth/sessions/tracked", "2"},
        {"$SYS/broker/keyauth/verification_cache/hits", "2"},
        {"$SYS/broker/keyauth/verification_cache/misses", "1"},
    };
    assert_true(changed == expected);
    assert_true(publish(sys, kStart + std::chrono::seconds(20), 2).empty());  // nothing new
    sys.registry_unreadable();
    auto again = publish(sys, kStart + std::chrono::seconds(30), 1);
    assert_int_equal(again.size(), 2);
    assert_string_equal(again.at("$SYS/broker/keyauth/registry/errors").c_str(), "2");
    assert_string_equal(again.at("$SYS/broker/keyauth/sessions/tracked").c_str(), "1");
}

void interval_zero_publishes_nothing(void**) {
    SysTopics sys(0);
    sys.connect(CredentialKind::token, Verdict::missing);
    assert_true(publish(sys, kStart, 1).empty());
    assert_true(publish(sys, kStart + std::chrono::hours(1), 1).empty());
}

}  // namespace

// The broker's side, as the plugin links it.
extern "C" int mosquitto_broker_publish_copy(const char* clientid, const char* topic,
                                             int payloadlen, const void* payload, int qos,
                                             bool retain, mosquitto_property* properties) {
    assert_null(clientid);
    assert_null(properties);
    if (qos == 0 && retain)
        ++retained_qos0;
    sent[topic] = std::string(static_cast<const char*>(payload), payloadlen);
    return MOSQ_ERR_SUCCESS;
}

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_topic_once_at_start),
        cmocka_unit_test(then_only_what_changed_when_due),
        cmocka_unit_test(interval_zero_publishes_nothing),
    };
    return run_group(tests);
}
