// The Mosquitto plugin's session table: what it remembers of each session it
// admitted, and which ones a sweep of the registry cuts. The broker is not
// needed: its clients are only keys here.
#include "unit_test.hpp"

#include <algorithm>
#include <map>
#include <vector>
#include <string>

#include "keyauth/registry.hpp"
#include "sessions.hpp"

using keyauth::ClientCredentials;
using keyauth::CredentialKind;
using keyauth::Errc;
using keyauth::Verdict;
using keyauth::mqtt::Grant;
using keyauth::mqtt::Session;
using keyauth::mqtt::SessionTable;
using keyauth::mqtt::SweepOutcome;

namespace {

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kDay = 86'400;

// The registry as the sweep sees it: a map, a generation, and a switch that
// makes it unreadable.
class MemoryStore final : public keyauth::ClientStore {
  public:
    void put(const std::string& id, const ClientCredentials& c) {
        clients_[id] = c;
        ++generation_;
    }
    void erase(const std::string& id) {
        clients_.erase(id);
        ++generation_;
    }
    void set_unreadable(bool unreadable) {
        unreadable_ = unreadable;
        ++generation_;
    }
    // Only the lookups of this id fail (a page of the registry unreadable).
    void set_unreadable_id(const std::string& id) {
        unreadable_id_ = id;
        ++generation_;
    }
    keyauth::Status find(std::string_view id, ClientCredentials& out) override {
        if (unreadable_ || (!unreadable_id_.empty() && id == unreadable_id_))
            return keyauth::make_error(Errc::io_error, "unreadable");
        auto it = clients_.find(std::string(id));
        if (it == clients_.end())
            return keyauth::make_error(Errc::unknown_client, "no such client");
        out = it->second;
        return {};
    }
    keyauth::Status find_by_fingerprint(const keyauth::Fingerprint&, std::string&,
                                        ClientCredentials&) override {
        return keyauth::make_error(Errc::unknown_client, "no such client");
    }
    keyauth::Result<std::vector<keyauth::ClientRecord>> list() override {
        return keyauth::make_error(Errc::io_error, "not listed");
    }
    std::uint64_t generation() override { return generation_; }

  private:
    std::map<std::string, ClientCredentials> clients_;
    std::uint64_t generation_ = 1;
    bool unreadable_ = false;
    std::string unreadable_id_;
};

ClientCredentials live(std::uint8_t tag, std::int64_t not_after = kNow + kDay) {
    return keyauth_test::make_credentials(tag, kNow - kDay, not_after);
}

// A session admitted by the token of `credentials` (its hash is the digest).
Session token_session(const std::string& mqtt_id, const std::string& client_id,
                      const ClientCredentials& credentials, bool persistent = false) {
    Grant grant;
    grant.client_id = client_id;
    grant.credential.kind = CredentialKind::token;
    grant.credential.bytes = credentials.token_hash.bytes;
    grant.not_after = credentials.validity.not_after;
    return Session{mqtt_id, grant, persistent,
                   keyauth::has_assigned_id_form(mqtt_id, keyauth::kDefaultAssignedIdPrefix)};
}

// A session admitted by the certificate of `credentials`.
Session certificate_session(const std::string& mqtt_id, const std::string& client_id,
                            const ClientCredentials& credentials) {
    Session session = token_session(mqtt_id, client_id, credentials);
    session.grant.credential.kind = CredentialKind::certificate;
    session.grant.credential.bytes = credentials.certificate_fingerprint.bytes;
    return session;
}

// Ids of the form Mosquitto gives a client that sent none.
const std::string kAssigned1 = "auto-0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D";
const std::string kAssigned2 = "auto-FFFFFFFF-0000-1111-2222-333333333333";

// The broker's clients are opaque pointers: any distinct addresses will do.
const mosquitto* client(int n) {
    static char clients[8];
    return reinterpret_cast<const mosquitto*>(&clients[n]);
}

void a_tracked_session_is_found_by_its_client(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table;
    table.track(client(0), token_session(kAssigned1, "myapp01", live(1)));
    assert_int_equal(table.size(), 1);
    const Session* found = table.find(client(0));
    assert_non_null(found);
    assert_string_equal(found->mqtt_client_id.c_str(), kAssigned1.c_str());
    assert_string_equal(found->grant.client_id.c_str(), "myapp01");
    assert_null(table.find(client(1)));
    assert_true(table.holds_broker_assigned_id(kAssigned1));
    assert_false(table.holds_broker_assigned_id(kAssigned2));
    table.untrack(client(0));
    assert_int_equal(table.size(), 0);
    assert_null(table.find(client(0)));
    assert_false(table.holds_broker_assigned_id(kAssigned1));
}

// The last-use pass: the clients of live sessions, not of parked or cut ones.
void only_live_sessions_are_visited_for_last_use(void**) {
    MemoryStore store;
    store.put("alice", live(1));
    store.put("bob", live(2));
    SessionTable table;
    table.track(client(0), token_session("alice-1", "alice", live(1)));
    table.track(client(1), token_session("alice-2", "alice", live(1)));
    table.track(client(2), token_session("bob", "bob", live(2), true));
    table.track(client(3), token_session("carol", "carol", live(3)));
    table.disconnected(client(2));  // persistent: parked, offline
    table.disconnected(client(1));
    std::vector<std::string> visited;
    table.for_each_live([&](std::string_view id) { visited.emplace_back(id); });
    std::sort(visited.begin(), visited.end());
    assert_int_equal(visited.size(), 2);
    assert_string_equal(visited[0].c_str(), "alice");
    assert_string_equal(visited[1].c_str(), "carol");
    // carol is not in the registry: cut by the sweep, then not visited
    store.put("alice", live(1));  // a commit: a sweep is due
    assert_int_equal(table.sweep(store, kNow).revoked.size(), 1);
    visited.clear();
    table.for_each_live([&](std::string_view id) { visited.emplace_back(id); });
    assert_int_equal(visited.size(), 1);
    assert_string_equal(visited[0].c_str(), "alice");
}

// Only ids of the broker's form are asked about, so only they are kept in
// the index; a session tracked again, or cut by a sweep, leaves it.
void assigned_ids_follow_their_sessions(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table;
    table.track(client(0), token_session("sensor-1", "myapp01", live(1)));
    assert_false(table.holds_broker_assigned_id("sensor-1"));
    table.track(client(0), token_session(kAssigned1, "myapp01", live(1)));
    table.track(client(1), token_session(kAssigned1, "myapp01", live(1)));
    table.track(client(0), token_session(kAssigned2, "myapp01", live(1)));  // replaced
    assert_true(table.holds_broker_assigned_id(kAssigned1));
    assert_true(table.holds_broker_assigned_id(kAssigned2));
    table.untrack(client(1));
    assert_false(table.holds_broker_assigned_id(kAssigned1));
    store.erase("myapp01");
    assert_int_equal(table.sweep(store, kNow).revoked.size(), 1);
    assert_false(table.holds_broker_assigned_id(kAssigned2));
    assert_int_equal(table.size(), 0);
}

void a_clean_session_is_forgotten_at_disconnect(void**) {
    SessionTable table;
    table.track(client(0), token_session(kAssigned1, "myapp01", live(1)));
    table.disconnected(client(0));
    assert_null(table.find(client(0)));
    assert_null(table.find_parked(client(0)));
    assert_false(table.holds_broker_assigned_id(kAssigned1));
}

// The broker keeps a persistent session offline: so does the table, until
// the broker reports it dropped too.
void a_persistent_session_is_parked_until_the_broker_drops_it(void**) {
    SessionTable table;
    table.track(client(0), token_session(kAssigned1, "myapp01", live(1), true));
    table.disconnected(client(0));
    assert_null(table.find(client(0)));
    assert_non_null(table.find_parked(client(0)));
    assert_true(table.holds_broker_assigned_id(kAssigned1));
    table.disconnected(client(0));
    assert_null(table.find_parked(client(0)));
    assert_false(table.holds_broker_assigned_id(kAssigned1));
}

// The broker frees an offline session that expires without reporting it: a
// new client at the same address is a new session, and its disconnect ends
// it, not the stale parked one.
void a_new_client_at_a_parked_address_replaces_it(void**) {
    SessionTable table;
    table.track(client(0), token_session(kAssigned1, "victim", live(1), true));
    table.disconnected(client(0));
    assert_non_null(table.find_parked(client(0)));
    table.track(client(0), token_session("attacker", "attacker", live(2)));
    assert_null(table.find_parked(client(0)));
    assert_false(table.holds_broker_assigned_id(kAssigned1));
    table.disconnected(client(0));
    assert_null(table.find(client(0)));
    assert_null(table.find_parked(client(0)));
    assert_int_equal(table.size(), 0);
}

// What the tick logs when it looks: how often the table read the registry.
std::size_t sweeps_begun = 0;
void count_sweep(std::size_t) {
    ++sweeps_begun;
}

void nothing_changed_nothing_swept(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table;
    table.track(client(0), token_session("sensor-1", "myapp01", live(1)));
    sweeps_begun = 0;
    SweepOutcome first = table.sweep(store, kNow, count_sweep);
    assert_int_equal(first.revoked.size(), 0);
    assert_int_equal(sweeps_begun, 1);  // the first sweep sees a generation it never saw
    SweepOutcome second = table.sweep(store, kNow + 1, count_sweep);
    assert_int_equal(second.revoked.size(), 0);
    assert_int_equal(sweeps_begun, 1);  // same generation, no validity ended: not looked at
    store.put("myapp02", live(2));      // any commit: looked at again
    table.sweep(store, kNow + 2, count_sweep);
    assert_int_equal(sweeps_begun, 2);
    assert_int_equal(table.size(), 1);
}

void a_deleted_client_is_cut_and_the_others_stay(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    store.put("myapp02", live(2));
    SessionTable table;
    table.track(client(0), token_session("sensor-1", "myapp01", live(1)));
    table.track(client(1), token_session("sensor-2", "myapp02", live(2)));
    table.sweep(store, kNow);
    store.erase("myapp01");
    SweepOutcome outcome = table.sweep(store, kNow);
    assert_int_equal(outcome.revoked.size(), 1);
    assert_string_equal(outcome.revoked[0].mqtt_client_id.c_str(), "sensor-1");
    assert_string_equal(outcome.revoked[0].client_id.c_str(), "myapp01");
    assert_int_equal(outcome.revoked[0].verdict, Verdict::unknown_client);
    assert_null(table.find(client(0)));
    assert_non_null(table.find(client(1)));
}

void a_reissued_client_is_cut_as_a_mismatch(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table;
    table.track(client(0), token_session("sensor-1", "myapp01", live(1)));
    store.put("myapp01", live(7));  // gen --force: a new token
    SweepOutcome outcome = table.sweep(store, kNow);
    assert_int_equal(outcome.revoked.size(), 1);
    assert_int_equal(outcome.revoked[0].verdict, Verdict::mismatch);
}

// No commit needed: the validity the registry gave is reason enough to look.
void an_expired_client_is_cut_without_a_commit(void**) {
    MemoryStore store;
    store.put("myapp01", live(1, kNow + 10));
    SessionTable table;
    table.track(client(0), token_session("sensor-1", "myapp01", live(1, kNow + 10)));
    assert_int_equal(table.sweep(store, kNow).revoked.size(), 0);
    SweepOutcome outcome = table.sweep(store, kNow + 11);
    assert_int_equal(outcome.revoked.size(), 1);
    assert_int_equal(outcome.revoked[0].verdict, Verdict::expired);
}

// An unreadable registry is not a revocation: sessions are kept for the
// grace, said once, and cut only once it has run out.
void an_unreadable_registry_keeps_sessions_for_the_grace(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table(30);
    assert_int_equal(table.registry_error_grace(), 30);
    table.track(client(0), token_session("sensor-1", "myapp01", live(1)));
    table.sweep(store, kNow);
    store.set_unreadable(true);
    SweepOutcome kept = table.sweep(store, kNow + 1);
    assert_int_equal(kept.revoked.size(), 0);
    assert_int_equal(kept.news, keyauth::SweepNews::registry_unreadable);
    assert_int_equal(kept.kept_through_error, 1);
    assert_non_null(table.find(client(0)));
    SweepOutcome cut = table.sweep(store, kNow + 32);
    assert_int_equal(cut.revoked.size(), 1);
    assert_int_equal(cut.revoked[0].verdict, Verdict::registry_error);
    assert_null(table.find(client(0)));
}

void a_registry_answering_again_is_news(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table(30);
    table.track(client(0), token_session("sensor-1", "myapp01", live(1)));
    table.sweep(store, kNow);
    store.set_unreadable(true);
    table.sweep(store, kNow + 1);
    store.set_unreadable(false);
    SweepOutcome again = table.sweep(store, kNow + 2);
    assert_int_equal(again.news, keyauth::SweepNews::registry_readable);
    assert_int_equal(again.revoked.size(), 0);
    assert_non_null(table.find(client(0)));
}

// A reload re-authenticating a session is judged as the sweep would judge it.
void ruling_outside_a_sweep_keeps_through_an_error(void**) {
    SessionTable table(30);
    Grant grant = token_session("sensor-1", "myapp01", live(1)).grant;
    assert_int_equal(table.ruling(Verdict::accepted, grant, kNow).fate, keyauth::SessionFate::keep);
    assert_int_equal(table.ruling(Verdict::registry_error, grant, kNow).fate,
                     keyauth::SessionFate::keep_through_error);
    assert_int_equal(table.ruling(Verdict::unknown_client, grant, kNow).fate,
                     keyauth::SessionFate::cut);
}

void recheck_session_renews_the_validity(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    Grant grant = token_session("myapp01", "myapp01", live(1)).grant;
    store.put("myapp01", live(1, kNow + 2 * kDay));  // same token, longer validity
    assert_int_equal(keyauth::mqtt::recheck_session(store, "myapp01", grant, kNow),
                     Verdict::accepted);
    assert_int_equal(grant.not_after, kNow + 2 * kDay);
    store.erase("myapp01");
    assert_int_equal(keyauth::mqtt::recheck_session(store, "myapp01", grant, kNow),
                     Verdict::unknown_client);
    assert_int_equal(grant.not_after, kNow + 2 * kDay);
}

// A token session under an id the broker assigned holds it only while no
// client has it: a client registered later under that very id cuts it at
// the next sweep (its id and stored session are that client's), as a
// deleted client's session is cut. The session under its own id, and a
// certificate's under any id (plugin_opt_clientid_match false), stay.
void an_assigned_id_registered_later_cuts_its_session(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    store.put("device", live(2));
    SessionTable table;
    table.track(client(0), token_session(kAssigned1, "myapp01", live(1)));
    table.track(client(1), token_session("myapp01:sub", "myapp01", live(1)));
    table.track(client(2), certificate_session(kAssigned2, "device", live(2)));
    assert_int_equal(table.sweep(store, kNow).revoked.size(), 0);
    ClientCredentials squatted = live(3);
    squatted.suspended = true;  // in whatever state: the id is its client's
    store.put(kAssigned1, squatted);
    store.put(kAssigned2, live(4));
    SweepOutcome outcome = table.sweep(store, kNow);
    assert_int_equal(outcome.revoked.size(), 1);
    assert_string_equal(outcome.revoked[0].mqtt_client_id.c_str(), kAssigned1.c_str());
    assert_string_equal(outcome.revoked[0].client_id.c_str(), "myapp01");
    assert_int_equal(outcome.revoked[0].verdict, Verdict::client_id_refused);
    assert_null(table.find(client(0)));
    assert_false(table.holds_broker_assigned_id(kAssigned1));
    assert_non_null(table.find(client(1)));
    assert_non_null(table.find(client(2)));
}

// Whether the id is now registered cannot be read: no revocation, the
// session is kept through the error as any other.
void an_assigned_id_unreadable_keeps_its_session_for_the_grace(void**) {
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table(30);
    table.track(client(0), token_session(kAssigned1, "myapp01", live(1)));
    table.sweep(store, kNow);
    store.set_unreadable_id(kAssigned1);
    SweepOutcome kept = table.sweep(store, kNow + 1);
    assert_int_equal(kept.revoked.size(), 0);
    assert_int_equal(kept.kept_through_error, 1);
    Grant grant = table.find(client(0))->grant;
    assert_int_equal(keyauth::mqtt::recheck_session(store, kAssigned1, grant, kNow + 1),
                     Verdict::registry_error);
    SweepOutcome cut = table.sweep(store, kNow + 32);
    assert_int_equal(cut.revoked.size(), 1);
    assert_int_equal(cut.revoked[0].verdict, Verdict::registry_error);
}

// The table's index is open addressing: every session must stay findable
// through any order of arrivals and departures, and a sweep must still see
// each one (a revocation that missed one would leave it connected).
void every_session_is_found_through_any_arrivals_and_departures(void**) {
    constexpr int kClients = 3000;
    static char addresses[kClients];
    auto at = [](int n) { return reinterpret_cast<const mosquitto*>(&addresses[n]); };
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table;
    std::map<int, bool> expected;  // client -> persistent
    unsigned state = 12345;
    auto next = [&state] { return (state = state * 1103515245u + 12345u) >> 8; };
    for (int step = 0; step < 4 * kClients; ++step) {
        const int n = static_cast<int>(next() % kClients);
        if (next() % 3 != 0) {
            const bool persistent = next() % 2 == 0;
            table.track(at(n),
                        token_session("m-" + std::to_string(n), "myapp01", live(1), persistent));
            expected[n] = persistent;
        } else if (expected.count(n) != 0) {
            table.disconnected(at(n));
            if (!expected[n])
                expected.erase(n);
            else
                expected[n] = false;  // parked: its next disconnect drops it
        }
    }
    std::size_t live_count = 0;
    for (int n = 0; n < kClients; ++n) {
        const Session* found = table.find(at(n));
        const Session* parked = table.find_parked(at(n));
        if (found != nullptr) {
            ++live_count;
            assert_string_equal(found->mqtt_client_id.c_str(), ("m-" + std::to_string(n)).c_str());
        }
        assert_true(found == nullptr || parked == nullptr);
        assert_int_equal(found != nullptr || parked != nullptr, expected.count(n));
    }
    assert_int_equal(table.size(), live_count);
    store.erase("myapp01");
    const SweepOutcome outcome = table.sweep(store, kNow);
    assert_int_equal(outcome.revoked.size(), live_count);
    assert_int_equal(table.size(), 0);
    for (int n = 0; n < kClients; ++n)
        assert_null(table.find(at(n)));
}

// An MQTT client id longer than what a session keeps in place is kept whole:
// the kick names it exactly, and a reload compares it exactly.
void a_long_mqtt_client_id_is_kept_whole(void**) {
    const std::string id = "myapp01:" + std::string(300, 'x');
    const std::string assigned = std::string(100, 'p') + kAssigned1.substr(5);
    MemoryStore store;
    store.put("myapp01", live(1));
    SessionTable table;
    table.track(client(0), token_session(id, "myapp01", live(1), true));
    Session with_long_prefix = token_session(assigned, "myapp01", live(1), true);
    with_long_prefix.assigned_form = true;  // the broker's auto_id_prefix may be that long
    table.track(client(1), std::move(with_long_prefix));
    assert_true(table.holds_broker_assigned_id(assigned));
    table.disconnected(client(0));
    table.disconnected(client(1));
    assert_string_equal(table.find_parked(client(0))->mqtt_client_id.c_str(), id.c_str());
    assert_true(table.holds_broker_assigned_id(assigned));
    table.track(client(0), token_session(id + "y", "myapp01", live(1)));
    assert_null(table.find_parked(client(0)));
    store.erase("myapp01");
    const SweepOutcome outcome = table.sweep(store, kNow);
    assert_int_equal(outcome.revoked.size(), 1);
    assert_string_equal(outcome.revoked[0].mqtt_client_id.c_str(), (id + "y").c_str());
    table.disconnected(client(1));
    assert_false(table.holds_broker_assigned_id(assigned));
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_tracked_session_is_found_by_its_client),
        cmocka_unit_test(assigned_ids_follow_their_sessions),
        cmocka_unit_test(a_new_client_at_a_parked_address_replaces_it),
        cmocka_unit_test(a_clean_session_is_forgotten_at_disconnect),
        cmocka_unit_test(a_persistent_session_is_parked_until_the_broker_drops_it),
        cmocka_unit_test(nothing_changed_nothing_swept),
        cmocka_unit_test(a_deleted_client_is_cut_and_the_others_stay),
        cmocka_unit_test(a_reissued_client_is_cut_as_a_mismatch),
        cmocka_unit_test(an_expired_client_is_cut_without_a_commit),
        cmocka_unit_test(an_unreadable_registry_keeps_sessions_for_the_grace),
        cmocka_unit_test(a_registry_answering_again_is_news),
        cmocka_unit_test(ruling_outside_a_sweep_keeps_through_an_error),
        cmocka_unit_test(recheck_session_renews_the_validity),
        cmocka_unit_test(an_assigned_id_registered_later_cuts_its_session),
        cmocka_unit_test(an_assigned_id_unreadable_keeps_its_session_for_the_grace),
        cmocka_unit_test(only_live_sessions_are_visited_for_last_use),
        cmocka_unit_test(every_session_is_found_through_any_arrivals_and_departures),
        cmocka_unit_test(a_long_mqtt_client_id_is_kept_whole),
    };
    return run_group(tests);
}
