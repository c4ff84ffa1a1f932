// keyauth-sync's snapshot (sync/snapshot.cpp): a record its sink refuses
// is left out and said, by the sink's verdict alone; an error of the sink,
// whatever its code, ends the read (a registry that fails must not pass for
// a refused record, and a fleet then for a smaller one). Against a canned
// JSON gateway on loopback: no etcd needed.
#include "unit_test.hpp"

#include <sodium.h>

#include <string>
#include <vector>

#include "fake_etcd_gateway.hpp"
#include "keyauth/etcd_client.hpp"
#include "keyauth/etcd_registry.hpp"
#include "snapshot.hpp"

using keyauth::ClientRecord;
using keyauth::Errc;
using keysync::RecordVerdict;

namespace {

std::string base64(std::string_view bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // its NUL
    return out;
}

std::string client_kv(const std::string& id, std::uint8_t tag) {
    const auto bytes = keyauth::encode_credentials(keyauth_test::make_credentials(tag, 0, 1 << 30));
    const std::string value(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return R"({"key":")" + base64(keyauth::fleet_client_key(id)) + R"(","value":")" +
           base64(value) + R"(","create_revision":"2","mod_revision":"2"})";
}

// One page at revision 5: the fleet id and three clients, alice, bob, carol.
const Answer kFleet{200, R"({"header":{"revision":"5","cluster_id":"1"},"count":"4","kvs":[)" +
                             client_kv("alice", 1) + "," + client_kv("bob", 3) + "," +
                             client_kv("carol", 5) + R"(]})"};

keyauth::Result<keysync::Snapshot> read_with(const keysync::RecordSink& sink) {
    FakeGateway gateway([](const std::string&) { return kFleet; });
    keyauth::EtcdOptions options;
    options.endpoints = {gateway.endpoint()};
    options.request_timeout = std::chrono::milliseconds(3000);
    auto etcd = keyauth::EtcdClient::connect(std::move(options));
    assert_true(etcd.ok());
    return keysync::read_snapshot(**etcd, 0, sink, [] { return keyauth::Status(); });
}

void refused_record_left_out_and_said(void**) {
    std::vector<std::string> taken;
    auto snapshot = read_with([&](const ClientRecord& record) -> keyauth::Result<RecordVerdict> {
        if (record.id == "bob")
            return RecordVerdict::refusal("its certificate is alice's, earlier in id order");
        taken.push_back(record.id);
        return RecordVerdict::taken();
    });
    assert_ok(snapshot.status());
    assert_int_equal(snapshot->revision, 5);
    assert_int_equal(snapshot->clients, 2);
    assert_int_equal(snapshot->refused, 1);
    assert_int_equal(snapshot->refusals.size(), 1);
    assert_sv_equal(snapshot->refusals[0].first, "/keyauth/clients/bob");
    assert_sv_equal(snapshot->refusals[0].second,
                    "its certificate is alice's, earlier in id order");
    assert_int_equal(taken.size(), 2);
}

// The registry filled saying already_exists (another client's id or
// certificate, or anything else) is the sink failing, not a refusal: the
// read ends on it, and nothing is counted as refused.
void sink_error_ends_the_read_whatever_its_code(void**) {
    for (const Errc code : {Errc::already_exists, Errc::registry_full, Errc::io_error}) {
        int asked = 0;
        auto snapshot = read_with([&](const ClientRecord&) -> keyauth::Result<RecordVerdict> {
            if (++asked == 2)
                return keyauth::make_error(code, "the registry failed");
            return RecordVerdict::taken();
        });
        assert_false(snapshot.ok());
        assert_code(snapshot.status(), code);
        assert_int_equal(asked, 2);  // carol not asked: the read ended at bob
    }
}

// fleet_unchanged_between against a gateway answering its requests in
// turn: the range of keys put after revision 8 at etcd's head (9), then
// the count at 8. The gateway's request bodies, in order.
struct QuietCheck {
    keyauth::Result<bool> unchanged = false;
    std::vector<std::string> bodies;
};
QuietCheck check_quiet(const std::vector<Answer>& answers) {
    std::atomic<std::size_t> asked{0};
    FakeGateway gateway([&](const std::string&) {
        const std::size_t turn = asked++;
        return turn < answers.size() ? answers[turn] : Answer{500, "{}"};
    });
    keyauth::EtcdOptions options;
    options.endpoints = {gateway.endpoint()};
    options.request_timeout = std::chrono::milliseconds(3000);
    auto etcd = keyauth::EtcdClient::connect(std::move(options));
    assert_true(etcd.ok());
    QuietCheck check;
    check.unchanged = keysync::fleet_unchanged_between(**etcd, 8, 9, "1");
    check.bodies = gateway.bodies();
    return check;
}

// At head: nothing put after 8, 4 keys (alice, eve, the fleet id, the CA
// certificate); what a host holding alice and bob and refusing eve counted
// as its own (2 clients + 2). At 8, with bob: 5.
const Answer kNothingPutSince8{200, R"({"header":{"revision":"9","cluster_id":"1"},"count":"4"})"};
Answer count_at_8(const char* count) {
    return {200, std::string(R"({"header":{"revision":"9","cluster_id":"1"},"count":")") + count +
                     R"("})"};
}

// Review 4, L-2: the delete of bob at 9 leaves no key to see. etcd's count
// at 8 tells it; a refused record must not stand in for it.
void a_delete_is_found_by_the_count_at_our_revision(void**) {
    QuietCheck check = check_quiet({kNothingPutSince8, count_at_8("5")});
    assert_ok(check.unchanged.status());
    assert_false(*check.unchanged);
    assert_int_equal(check.bodies.size(), 2);
    assert_true(check.bodies[0].find(R"("revision":"9")") != std::string::npos);
    assert_true(check.bodies[0].find(R"("min_mod_revision":"9")") != std::string::npos);
    assert_true(check.bodies[1].find(R"("revision":"8")") != std::string::npos);
    assert_true(check.bodies[1].find(R"("count_only":true)") != std::string::npos);
}

void same_keys_at_both_revisions_are_quiet(void**) {
    QuietCheck check = check_quiet({kNothingPutSince8, count_at_8("4")});
    assert_ok(check.unchanged.status());
    assert_true(*check.unchanged);
}

// A key put after 8: the watch brings it; no count asked.
void a_key_put_since_is_not_quiet(void**) {
    const Answer put{200, R"({"header":{"revision":"9","cluster_id":"1"},"count":"5","kvs":[)"
                          R"({"key":"L2tleWF1dGgvY2xpZW50cy9ib2I=","mod_revision":"9"}]})"};
    QuietCheck check = check_quiet({put});
    assert_ok(check.unchanged.status());
    assert_false(*check.unchanged);
    assert_int_equal(check.bodies.size(), 1);
}

// Revision 8 compacted away: nothing proves the delete absent; not an error
// (the watch, compacted too, rebuilds).
void our_revision_compacted_is_not_quiet(void**) {
    const Answer compacted{400, R"({"code":11,"message":"etcdserver: mvcc: required revision )"
                                R"(has been compacted"})"};
    QuietCheck check = check_quiet({kNothingPutSince8, compacted});
    assert_ok(check.unchanged.status());
    assert_false(*check.unchanged);
}

// Another cluster answering the count: its revision 8 is not ours.
void a_count_from_another_cluster_is_not_quiet(void**) {
    const Answer other{200, R"({"header":{"revision":"9","cluster_id":"2"},"count":"4"})"};
    QuietCheck check = check_quiet({kNothingPutSince8, other});
    assert_ok(check.unchanged.status());
    assert_false(*check.unchanged);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_record_left_out_and_said),
        cmocka_unit_test(sink_error_ends_the_read_whatever_its_code),
        cmocka_unit_test(a_delete_is_found_by_the_count_at_our_revision),
        cmocka_unit_test(same_keys_at_both_revisions_are_quiet),
        cmocka_unit_test(a_key_put_since_is_not_quiet),
        cmocka_unit_test(our_revision_compacted_is_not_quiet),
        cmocka_unit_test(a_count_from_another_cluster_is_not_quiet),
    };
    return run_group(tests);
}
