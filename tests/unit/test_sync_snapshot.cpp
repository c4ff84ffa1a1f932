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

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_record_left_out_and_said),
        cmocka_unit_test(sink_error_ends_the_read_whatever_its_code),
    };
    return run_group(tests);
}
