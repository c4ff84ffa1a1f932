// The fleet's last-use shards (keyauth/fleet_last_use.hpp): what a host's
// keyauth-sync publishes and keytool --etcd reads. Round trip, splitting,
// and every shard not exactly as written refused.
#include "unit_test.hpp"

#include <cstring>
#include <string>

#include "keyauth/etcd_client.hpp"
#include "keyauth/etcd_registry.hpp"
#include "keyauth/fleet_last_use.hpp"

using keyauth::LastUseMap;

namespace {

constexpr std::int64_t kDay = keyauth::kSecondsPerDay;
constexpr std::int64_t kDecember3 = 20790 * kDay;  // 2026-12-03 00:00 UTC

LastUseMap some_uses() {
    return LastUseMap{{"alice", kDecember3 + 3600 + 60},
                      {"alice2", kDecember3 + 5 * 60},
                      {"bob", kDecember3 - kDay + 86340},
                      {"bob-01.x@y", 60},
                      {"z", kDecember3 + kDay - 60}};
}

void times_round_down_to_the_start_of_their_utc_day(void**) {
    assert_int_equal(keyauth::start_of_utc_day(kDecember3 + 86399), kDecember3);
    assert_int_equal(keyauth::start_of_utc_day(kDecember3), kDecember3);
    assert_int_equal(keyauth::start_of_utc_day(-1), -kDay);
}

void a_shard_reads_back_as_the_days_written(void**) {
    const auto shards = keyauth::encode_last_use_shards(some_uses());
    assert_int_equal(shards.size(), 1);
    assert_int_equal(static_cast<unsigned char>(shards[0][0]), keyauth::kLastUseShardVersion);
    auto read = keyauth::decode_last_use_shard(shards[0]);
    assert_true(read.ok());
    const LastUseMap expected{{"alice", kDecember3},
                              {"alice2", kDecember3},
                              {"bob", kDecember3 - kDay},
                              {"bob-01.x@y", 0},
                              {"z", kDecember3}};
    assert_true(*read == expected);
    // Same uses, same bytes: a publisher compares shards byte for byte.
    assert_true(keyauth::encode_last_use_shards(*read) == shards);
}

void no_uses_no_shard(void**) {
    assert_true(keyauth::encode_last_use_shards({}).empty());
}

LastUseMap many_uses(std::size_t count) {
    LastUseMap uses;
    for (std::size_t i = 0; i < count; ++i) {
        char id[48];
        std::snprintf(id, sizeof id, "sensor-%08zu.building-%zu@fleet", i * 7919 % 1000003, i % 97);
        uses.emplace(id, kDecember3 - static_cast<std::int64_t>(i % 400) * kDay);
    }
    return uses;
}

void shards_split_at_256_kib_and_hold_every_id_once(void**) {
    const LastUseMap uses = many_uses(60000);
    const auto shards = keyauth::encode_last_use_shards(uses);
    assert_true(shards.size() >= 2);
    LastUseMap back;
    std::size_t entries = 0;
    for (const auto& shard : shards) {
        assert_true(shard.size() <= keyauth::kLastUseShardMaxBytes);
        // Full before the next begins: no more shards than needed.
        if (&shard != &shards.back())
            assert_true(shard.size() > keyauth::kLastUseShardMaxBytes - 100);
        auto read = keyauth::decode_last_use_shard(shard);
        assert_true(read.ok());
        entries += read->size();
        keyauth::merge_last_use(back, *read);
    }
    assert_int_equal(entries, uses.size());
    assert_int_equal(back.size(), uses.size());
    for (const auto& [id, seconds] : uses)
        assert_int_equal(back.at(id), keyauth::start_of_utc_day(seconds));
    // A small limit splits the same way: each shard within it.
    for (const auto& shard : keyauth::encode_last_use_shards(some_uses(), 40))
        assert_true(shard.size() <= 40);
    assert_int_equal(keyauth::encode_last_use_shards(some_uses(), 40).size(), 2);
}

void assert_refused(const std::string& bytes) {
    auto read = keyauth::decode_last_use_shard(bytes);
    assert_false(read.ok());
    assert_int_equal(static_cast<int>(read.error().code),
                     static_cast<int>(keyauth::Errc::registry_corrupt));
}

void every_truncation_is_refused(void**) {
    const std::string shard = keyauth::encode_last_use_shards(some_uses()).front();
    for (std::size_t length = 0; length < shard.size(); ++length)
        assert_refused(shard.substr(0, length));
    assert_refused(shard + '\0');
    assert_refused(shard + shard.substr(1));
}

void every_byte_changed_is_refused_or_reads_differently_but_validly(void**) {
    // A change either breaks a rule (refused) or still spells a valid shard
    // (another id or day): never something half-read.
    const std::string shard = keyauth::encode_last_use_shards(some_uses()).front();
    std::size_t refused = 0;
    for (std::size_t at = 0; at < shard.size(); ++at) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string changed = shard;
            changed[at] = static_cast<char>(changed[at] ^ (1 << bit));
            auto read = keyauth::decode_last_use_shard(changed);
            if (!read.ok()) {
                ++refused;
                continue;
            }
            assert_true(keyauth::encode_last_use_shards(*read) ==
                        std::vector<std::string>{changed});
        }
    }
    assert_true(refused > shard.size() * 4);
}

// A shard spelled byte by byte: version, count, then per entry shared,
// suffix length, suffix, day.
std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int value : values)
        out.push_back(static_cast<char>(value));
    return out;
}

// A host's etcd user can fill its own prefix with valid shards of ids the
// registry never held: a reader keeps the registry's clients only, so what
// it holds stays bounded by the registry, whatever the host wrote.
void ids_the_registry_does_not_hold_are_dropped_as_read(void**) {
    const LastUseMap flood = many_uses(60000);
    const auto shards = keyauth::encode_last_use_shards(flood);
    assert_true(shards.size() >= 2);
    const std::string kept_id = flood.begin()->first;
    const auto keep = [&](std::string_view id) { return id == kept_id || id == "alice"; };
    LastUseMap into{{kept_id, kDecember3 + 3 * kDay}};  // a later day another host saw
    keyauth::ShardEntries entries;
    for (int pass = 0; pass < 3; ++pass) {  // the same shards again: no more held
        for (const auto& shard : shards)
            assert_true(keyauth::merge_last_use_shard(shard, keep, into, entries).ok());
    }
    assert_int_equal(entries.read, 3 * flood.size());
    assert_int_equal(entries.dropped, 3 * flood.size() - 3);  // kept_id, once a pass
    assert_int_equal(into.size(), 1);
    assert_int_equal(into.at(kept_id), kDecember3 + 3 * kDay);  // the latest kept
    // An earlier day merged in from a shard is overtaken by a later one.
    LastUseMap alice;
    keyauth::ShardEntries counted;
    assert_true(keyauth::merge_last_use_shard(keyauth::encode_last_use_shards(some_uses()).front(),
                                              keep, alice, counted)
                    .ok());
    assert_int_equal(counted.read, some_uses().size());
    assert_true(alice == (LastUseMap{{"alice", kDecember3}}));
    // A malformed shard is refused whatever is kept.
    assert_false(keyauth::merge_last_use_shard(bytes({1, 1, 0, 1, '-', 1}),
                                               [](std::string_view) { return false; }, alice,
                                               counted)
                     .ok());
}

// A filter forgotten (KeptClients{}, an empty function) keeps nothing:
// there is no way to read a prefix of shards keeping every id by accident.
void no_filter_keeps_nothing(void**) {
    const auto shard = keyauth::encode_last_use_shards(some_uses()).front();
    LastUseMap into;
    keyauth::ShardEntries entries;
    assert_true(
        keyauth::merge_last_use_shard(shard, keyauth::KeptClients{}.keep, into, entries).ok());
    assert_int_equal(entries.read, some_uses().size());  // counted, as for a flooding host's
    assert_int_equal(entries.dropped, some_uses().size());
    assert_int_equal(into.size(), 0);
    assert_true(
        keyauth::merge_last_use_shard(shard, keyauth::KeptClients::nothing().keep, into, entries)
            .ok());
    assert_int_equal(into.size(), 0);
    // One shard decoded whole is bounded by its size: every id of it.
    assert_int_equal(keyauth::decode_last_use_shard(shard)->size(), some_uses().size());
}

void a_host_is_not_judged_when_markers_are_not_readable(void**) {
    keyauth::HostLastUse host;
    host.host = "edge2";
    host.markers_read = false;
    assert_true(keyauth::host_staleness(host, kDecember3) == keyauth::HostStaleness::not_judged);
}

void each_rule_is_enforced(void**) {
    assert_true(
        keyauth::decode_last_use_shard(bytes({1, 2, 0, 2, 'a', 'b', 1, 1, 1, 'c', 2})).ok());
    assert_refused(bytes({2, 1, 0, 1, 'a', 1}));                              // version 2
    assert_refused(bytes({1, 0}));                                            // no entries
    assert_refused(bytes({1, 1, 0, 1, 'a'}));                                 // no day
    assert_refused(bytes({1, 1, 1, 1, 'a', 1}));                              // shares with nothing
    assert_refused(bytes({1, 1, 0, 0, 1}));                                   // empty id
    assert_refused(bytes({1, 1, 0, 1, '-', 1}));                              // invalid id
    assert_refused(bytes({1, 1, 0, 2, 'a', '\n', 1}));                        // control byte
    assert_refused(bytes({1, 2, 0, 1, 'b', 1, 0, 1, 'a', 1}));                // out of order
    assert_refused(bytes({1, 2, 0, 1, 'a', 1, 0, 1, 'a', 1}));                // twice
    assert_refused(bytes({1, 2, 0, 2, 'a', 'b', 1, 0, 2, 'a', 'c', 1}));      // not front-coded
    assert_refused(bytes({1, 1, 0, 1, 'a', 0x81, 0}));                        // non-minimal day
    assert_refused(bytes({1, 1, 0, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f}));   // day too late
    assert_refused(bytes({1, 1, 0, 65}) + std::string(65, 'a') + '\x01');     // 65 long
    assert_refused(std::string(keyauth::kLastUseShardMaxBytes + 1, '\x01'));  // too large
}

void keys_are_outside_what_replicas_watch(void**) {
    const std::string key = keyauth::fleet_usage_shard_key("00ff", "host-a.example", 3);
    assert_sv_equal(key, "/keyauth-usage/00ff/host-a.example/3");
    const std::string watched_end = keyauth::etcd_prefix_end(keyauth::kFleetPrefix);
    assert_false(key >= std::string(keyauth::kFleetPrefix) && key < watched_end);
    const std::string usage_end = keyauth::etcd_prefix_end(keyauth::kFleetUsagePrefix);
    assert_true(usage_end <= std::string(keyauth::kFleetPrefix) ||
                std::string(keyauth::kFleetUsagePrefix) >= watched_end);
    auto parsed = keyauth::parse_fleet_usage_key("00ff", key);
    assert_true(parsed.ok());
    assert_sv_equal(parsed->host, "host-a.example");
    assert_int_equal(parsed->shard, 3);
    for (const char* bad : {"/keyauth-usage/00ff/host-a/03", "/keyauth-usage/00ff/host-a/",
                            "/keyauth-usage/00ff/host-a", "/keyauth-usage/00ff/ho st/1",
                            "/keyauth-usage/00ff/a/b/1", "/keyauth-usage/00fe/host-a/1",
                            "/keyauth-usage/00ff/*.x.y/1", "/keyauth-usage/00ff/h\x1b[2J/1"})
        assert_false(keyauth::parse_fleet_usage_key("00ff", bad).ok());
    assert_true(keyauth::check_fleet_id("0123456789abcdef").ok());
    assert_false(keyauth::check_fleet_id("").ok());
    assert_false(keyauth::check_fleet_id("../x").ok());
    assert_false(keyauth::check_fleet_id("ABCD").ok());
}

void a_marker_reads_back_as_written(void**) {
    const keyauth::PublishMarker marker{kDecember3 + 3600, 3600};
    const std::string text = keyauth::encode_publish_marker(marker);
    assert_sv_equal(text, "v1 published_at=1796259600 interval=3600");
    auto read = keyauth::decode_publish_marker(text);
    assert_true(read.ok());
    assert_int_equal(read->published_at, marker.published_at);
    assert_int_equal(read->interval_seconds, marker.interval_seconds);
    auto longest = keyauth::decode_publish_marker(keyauth::encode_publish_marker(
        {253402214400, keyauth::kMaxPublishIntervalSeconds}));  // 9999-12-31, a week
    assert_true(longest.ok());
}

void every_marker_not_as_written_is_refused(void**) {
    for (const char* bad : {"", "v2 published_at=1 interval=1", "v1", "v1 ",
                            "v1 published_at=1", "v1 published_at=1 interval=",
                            "v1 published_at= interval=1", "v1 published_at=01 interval=1",
                            "v1 published_at=1 interval=01", "v1 published_at=-1 interval=1",
                            "v1 published_at=+1 interval=1", "v1 published_at=1 interval=0",
                            "v1 published_at=1 interval=604801",       // over a week
                            "v1 published_at=253402300800 interval=1",  // year 10000
                            "v1 published_at=99999999999999999999 interval=1",
                            "v1 published_at=1 interval=1\n", "v1 published_at=1 interval=1 ",
                            "v1  published_at=1 interval=1", "V1 published_at=1 interval=1",
                            "v1 interval=1 published_at=1", "garbage",
                            "v1 published_at=1\tinterval=1"})
        assert_false(keyauth::decode_publish_marker(bad).ok());
    auto refused = keyauth::decode_publish_marker("v2 published_at=1 interval=1");
    assert_non_null(std::strstr(refused.error().message.c_str(), "version 1"));
}

void a_host_is_stale_after_two_intervals_and_a_minute(void**) {
    keyauth::HostLastUse host;
    host.host = "edge2";
    host.marker = keyauth::PublishMarker{kDecember3, 3600};
    assert_true(keyauth::host_staleness(host, kDecember3 + 2 * 3600 + 60) ==
                keyauth::HostStaleness::fresh);
    assert_true(keyauth::host_staleness(host, kDecember3 + 2 * 3600 + 61) ==
                keyauth::HostStaleness::stale);
    assert_true(keyauth::host_staleness(host, kDecember3 - keyauth::kMarkerClockSkewSeconds) ==
                keyauth::HostStaleness::fresh);
    assert_true(keyauth::host_staleness(host, kDecember3 - keyauth::kMarkerClockSkewSeconds - 1) ==
                keyauth::HostStaleness::marker_ahead);
    host.marker.reset();
    assert_true(keyauth::host_staleness(host, kDecember3) == keyauth::HostStaleness::no_marker);
}

void markers_are_outside_the_shards_and_what_replicas_watch(void**) {
    const std::string key = keyauth::fleet_usage_marker_key("00ff", "host-a.example");
    assert_sv_equal(key, "/keyauth-usage-hosts/00ff/host-a.example");
    const std::string shards = keyauth::fleet_usage_prefix("00ff");
    assert_false(key >= shards && key < keyauth::etcd_prefix_end(shards));
    const std::string watched_end = keyauth::etcd_prefix_end(keyauth::kFleetPrefix);
    assert_false(key >= std::string(keyauth::kFleetPrefix) && key < watched_end);
    auto host = keyauth::parse_fleet_usage_marker_key("00ff", key);
    assert_true(host.ok());
    assert_sv_equal(*host, "host-a.example");
    for (const char* bad : {"/keyauth-usage-hosts/00ff/", "/keyauth-usage-hosts/00ff/a/b",
                            "/keyauth-usage-hosts/00fe/host-a", "/keyauth-usage-hosts/00ff/ho st",
                            "/keyauth-usage-hosts/00ff/*.x.y", "/keyauth-usage/00ff/host-a/0",
                            "/keyauth-usage-hosts/00ff/h\x1b[2J"})
        assert_false(keyauth::parse_fleet_usage_marker_key("00ff", bad).ok());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(times_round_down_to_the_start_of_their_utc_day),
        cmocka_unit_test(a_shard_reads_back_as_the_days_written),
        cmocka_unit_test(no_uses_no_shard),
        cmocka_unit_test(shards_split_at_256_kib_and_hold_every_id_once),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(every_byte_changed_is_refused_or_reads_differently_but_validly),
        cmocka_unit_test(each_rule_is_enforced),
        cmocka_unit_test(ids_the_registry_does_not_hold_are_dropped_as_read),
        cmocka_unit_test(no_filter_keeps_nothing),
        cmocka_unit_test(a_host_is_not_judged_when_markers_are_not_readable),
        cmocka_unit_test(keys_are_outside_what_replicas_watch),
        cmocka_unit_test(a_marker_reads_back_as_written),
        cmocka_unit_test(every_marker_not_as_written_is_refused),
        cmocka_unit_test(a_host_is_stale_after_two_intervals_and_a_minute),
        cmocka_unit_test(markers_are_outside_the_shards_and_what_replicas_watch),
    };
    return run_group(tests);
}
