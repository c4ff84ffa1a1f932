// The fleet's pieces that need no etcd: key layout, records read from etcd,
// the replica digest, and the options keytool and keyauth-sync parse.
#include "unit_test.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "keyauth/etcd_client.hpp"
#include "keyauth/etcd_registry.hpp"

using keyauth::ClientRecord;
using keyauth::EtcdKeyValue;
using keyauth_test::make_credentials;

namespace {

std::string encoded(const keyauth::ClientCredentials& c) {
    const auto bytes = keyauth::encode_credentials(c);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void prefix_end_is_the_next_key(void**) {
    assert_sv_equal(keyauth::etcd_prefix_end("/keyauth/"), "/keyauth0");
    assert_sv_equal(keyauth::etcd_prefix_end("a\xff"), "b");
    assert_sv_equal(keyauth::etcd_prefix_end("\xff"), std::string(1, '\0'));
}

void client_keys_and_only_them(void**) {
    assert_sv_equal(keyauth::fleet_client_key("alice"), "/keyauth/clients/alice");
    assert_sv_equal(*keyauth::fleet_client_id("/keyauth/clients/alice"), "alice");
    assert_false(keyauth::fleet_client_id("/keyauth/ca_cert").has_value());
    assert_false(keyauth::fleet_client_id("/keyauth/clientsalice").has_value());
    assert_false(keyauth::fleet_client_id("/other/clients/alice").has_value());
    // Under the prefix, but no registry may hold the id.
    for (const char* key : {"/keyauth/clients/", "/keyauth/clients/a\nb", "/keyauth/clients/.x"}) {
        assert_true(keyauth::is_fleet_client_key(key));
        assert_false(keyauth::fleet_client_id(key).has_value());
    }
    assert_sv_equal(keyauth::printable_fleet_key("/keyauth/clients/a\n\x1b[2J"),
                    "/keyauth/clients/a\\x0a\\x1b[2J");
}

// Read in id order, a certificate admits the first record holding it.
void a_certificate_admits_the_first_record_holding_it(void**) {
    const auto first = make_credentials(7, 10, 20);
    const auto second = make_credentials(9, 10, 20);
    keyauth::FleetRecordFilter filter;
    assert_true(filter.admit(EtcdKeyValue{"/keyauth/clients/adam", encoded(first), 2, 2}).ok());
    assert_false(filter.admit(EtcdKeyValue{"/keyauth/clients/", encoded(second), 2, 2}).ok());
    assert_true(filter.admit(EtcdKeyValue{"/keyauth/clients/bob", encoded(second), 2, 2}).ok());
    auto copy = filter.admit(EtcdKeyValue{"/keyauth/clients/zed", encoded(first), 2, 2});
    assert_false(copy.ok());
    assert_int_equal(static_cast<int>(copy.error().code),
                     static_cast<int>(keyauth::Errc::already_exists));
}

void records_from_etcd_are_checked(void**) {
    const auto credentials = make_credentials(7, 1675561518, 1959558918);
    auto good =
        keyauth::fleet_record(EtcdKeyValue{"/keyauth/clients/alice", encoded(credentials), 2, 2});
    assert_true(good.ok());
    assert_sv_equal(good->id, "alice");
    assert_int_equal(good->credentials.validity.not_after, 1959558918);

    auto bad_id =
        keyauth::fleet_record(EtcdKeyValue{"/keyauth/clients/bad id", encoded(credentials), 2, 2});
    assert_false(bad_id.ok());
    assert_int_equal(static_cast<int>(bad_id.error().code),
                     static_cast<int>(keyauth::Errc::registry_corrupt));
    auto short_value = keyauth::fleet_record(
        EtcdKeyValue{"/keyauth/clients/alice", encoded(credentials).substr(1), 2, 2});
    assert_false(short_value.ok());
    auto not_a_client = keyauth::fleet_record(EtcdKeyValue{"/keyauth/ca_cert", "PEM", 2, 2});
    assert_false(not_a_client.ok());
}

// The records as LMDB and etcd list them, in id order.
std::string digest_of(const std::vector<ClientRecord>& records) {
    keyauth::RegistryDigest digest;
    for (const ClientRecord& record : records)
        digest.add(record);
    return digest.hex();
}

void digest_is_of_every_record(void**) {
    const std::vector<ClientRecord> records = {{"alice", make_credentials(1, 10, 20)},
                                               {"bob", make_credentials(2, 10, 20)}};
    assert_sv_equal(digest_of(records), digest_of(records));
    auto changed = records;
    changed[1].credentials.validity.not_after = 21;
    assert_true(digest_of(changed) != digest_of(records));
    auto renamed = records;
    renamed[1].id = "bobby";
    assert_true(digest_of(renamed) != digest_of(records));
    assert_true(digest_of({records[0]}) != digest_of(records));
    assert_int_equal(digest_of({}).size(), 64);
}

void endpoints_are_urls(void**) {
    auto options = keyauth::etcd_options("http://127.0.0.1:2379/, https://etcd2:2379,", {});
    assert_true(options.ok());
    assert_int_equal(options->endpoints.size(), 2);
    assert_sv_equal(options->endpoints[0], "http://127.0.0.1:2379");
    assert_sv_equal(options->endpoints[1], "https://etcd2:2379");
    assert_false(keyauth::etcd_options("", {}).ok());
    assert_false(keyauth::etcd_options(",", {}).ok());
    assert_false(keyauth::etcd_options("etcd1:2379", {}).ok());
    assert_false(keyauth::etcd_options("ftp://etcd1:2379", {}).ok());
}

void tls_and_user_options(void**) {
    char path[] = "/tmp/keyauth-etcd-password.XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    auto options = keyauth::etcd_options("https://e:2379", {{"etcd-cacert", "/ca.pem"},
                                                            {"etcd-cert", "/c.pem"},
                                                            {"etcd-key", "/k.pem"},
                                                            {"etcd-user", "keyauth"},
                                                            {"etcd-password-file", path}});
    unlink(path);
    assert_true(options.ok());
    assert_sv_equal(options->ca_cert, "/ca.pem");
    assert_sv_equal(options->user, "keyauth");
    assert_sv_equal(options->password.view(), "s3cret");

    assert_false(keyauth::etcd_options("https://e:2379", {{"etcd-cert", "/c.pem"}}).ok());
    assert_false(keyauth::etcd_options("https://e:2379", {{"etcd-token", "x"}}).ok());
    assert_false(
        keyauth::etcd_options("https://e:2379", {{"etcd-password-file", "/nonexistent/pw"}}).ok());
}

void request_budget_from_the_environment(void**) {
    setenv("KEYAUTH_ETCD_TIMEOUT_MS", "3000", 1);
    auto options = keyauth::etcd_options("http://e:2379", {});
    assert_true(options.ok());
    assert_int_equal(options->request_timeout.count(), 3000);
    assert_true(options->attempt_timeout <= options->request_timeout);
    for (const char* refused : {"5", "5000abc", "99999999999999999999", "3600001"}) {
        setenv("KEYAUTH_ETCD_TIMEOUT_MS", refused, 1);
        assert_false(keyauth::etcd_options("http://e:2379", {}).ok());
    }
    unsetenv("KEYAUTH_ETCD_TIMEOUT_MS");
    assert_int_equal(keyauth::etcd_options("http://e:2379", {})->request_timeout.count(), 10000);
}

void loss_over_the_share_is_held(void**) {
    assert_false(keyauth::exceeds_loss(0, 0, 50));   // nothing served, nothing to lose
    assert_false(keyauth::exceeds_loss(10, 0, 0));   // nothing lost
    assert_false(keyauth::exceeds_loss(10, 5, 50));  // exactly the share
    assert_true(keyauth::exceeds_loss(10, 6, 50));
    assert_true(keyauth::exceeds_loss(2, 2, 50));        // emptied
    assert_true(keyauth::exceeds_loss(3000, 3001, 50));  // more than served counts as all
    assert_false(keyauth::exceeds_loss(2, 2, 100));      // the guard off
    assert_true(keyauth::exceeds_loss(1000, 1, 0));      // any loss held
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefix_end_is_the_next_key),
        cmocka_unit_test(client_keys_and_only_them),
        cmocka_unit_test(records_from_etcd_are_checked),
        cmocka_unit_test(a_certificate_admits_the_first_record_holding_it),
        cmocka_unit_test(digest_is_of_every_record),
        cmocka_unit_test(endpoints_are_urls),
        cmocka_unit_test(tls_and_user_options),
        cmocka_unit_test(request_budget_from_the_environment),
        cmocka_unit_test(loss_over_the_share_is_held),
    };
    return run_group(tests);
}
