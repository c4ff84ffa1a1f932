// The audit trail's line: fields in order, values that cannot forge a field
// or a line, nothing secret; and the datagram syslog gets.
#include "unit_test.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "keyauth/audit.hpp"
#include "keyauth/files.hpp"

namespace {

using keyauth::AuditAction;
using keyauth::AuditEvent;
using keyauth::AuditProcess;

AuditProcess root_by_sudo() {
    AuditProcess process;
    process.user = "root";
    process.uid = 0;
    process.login_uid = 1000;
    process.sudo_user = "alice";
    return process;
}

AuditEvent gen_of(std::string id) {
    AuditEvent event;
    event.action = AuditAction::gen;
    event.client_id = std::move(id);
    event.via = "cli";
    event.add("registry", "/var/lib/keyauth");
    return event;
}

void a_change_made_is_one_line_of_fields_in_order(void**) {
    AuditEvent event = gen_of("myapp01");
    event.add("days", "365").add("serial", "5a1f03");
    assert_sv_equal(keyauth::audit_line(event, root_by_sudo()),
                    "audit: action=gen client=myapp01 result=ok user=root uid=0 loginuid=1000 "
                    "sudo_user=alice via=cli registry=/var/lib/keyauth days=365 serial=5a1f03");
    assert_int_equal(keyauth::audit_priority(event), 85);  // authpriv.notice
}

void a_change_refused_gives_the_errors_words(void**) {
    AuditEvent event = gen_of("myapp01");
    event.result = keyauth::make_error(keyauth::Errc::already_exists,
                                       "client myapp01 already exists (use --force to replace)");
    AuditProcess process;
    process.user = "bob";
    process.uid = 1001;
    assert_sv_equal(keyauth::audit_line(event, process),
                    "audit: action=gen client=myapp01 result=failed "
                    "error=\"client myapp01 already exists (use --force to replace)\" user=bob "
                    "uid=1001 via=cli registry=/var/lib/keyauth");
    assert_int_equal(keyauth::audit_priority(event), 84);  // authpriv.warning
}

void the_console_and_the_fleet_say_who_and_which_revision(void**) {
    AuditEvent event;
    event.action = AuditAction::del;
    event.client_id = "sensor-7";
    event.via = "console";
    event.session = "3f2a9c1e5b7d0a44";
    event.peer = "::1";
    event.revision = 4711;
    AuditProcess process;
    process.user = "keyauth";
    process.uid = 998;
    assert_sv_equal(keyauth::audit_line(event, process),
                    "audit: action=del client=sensor-7 result=ok user=keyauth uid=998 "
                    "via=console session=3f2a9c1e5b7d0a44 from=::1 revision=4711");
}

void every_action_has_its_name(void**) {
    assert_sv_equal(keyauth::audit_action_name(AuditAction::init), "init");
    assert_sv_equal(keyauth::audit_action_name(AuditAction::gen), "gen");
    assert_sv_equal(keyauth::audit_action_name(AuditAction::del), "del");
    assert_sv_equal(keyauth::audit_action_name(AuditAction::rotate), "rotate");
    assert_sv_equal(keyauth::audit_action_name(AuditAction::suspend), "suspend");
    assert_sv_equal(keyauth::audit_action_name(AuditAction::resume), "resume");
    assert_sv_equal(keyauth::audit_action_name(AuditAction::server_cert), "server-cert");
    assert_sv_equal(keyauth::audit_action_name(AuditAction::fleet_apply), "fleet-apply");
}

void a_value_cannot_forge_a_field_or_a_line(void**) {
    // An id the core would refuse still reaches the trail, as a refusal.
    AuditEvent event = gen_of("x result=ok\nuser=root\" \\ \x01\xff");
    event.details.clear();
    const std::string line = keyauth::audit_line(event, AuditProcess{"root", 0, {}, {}});
    assert_sv_equal(line,
                    "audit: action=gen client=\"x result=ok\\x0auser=root\\\" \\\\ \\x01\\xff\" "
                    "result=ok user=root uid=0 via=cli");
    assert_null(std::strchr(line.c_str(), '\n'));
}

void empty_fields_are_left_out_and_long_values_cut(void**) {
    AuditEvent event;
    event.action = AuditAction::init;
    event.add("group", "").add("hosts", std::string(2000, 'z') + " b");
    const std::string line = keyauth::audit_line(event, AuditProcess{"", 0, {}, {}});
    assert_sv_equal(line.substr(0, 48), "audit: action=init result=ok uid=0 hosts=\"zzzzzz");
    assert_true(line.size() < 1100);
    assert_sv_equal(line.substr(line.size() - 5), "z...\"");
}

void nothing_secret_reaches_the_line(void**) {
    const std::string token =
        "myapp01:b:" + std::string("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    const std::string session(64, 'e');
    for (const std::string& secret :
         std::vector<std::string>{token, "bad token " + token.substr(0, 14),
                                  "-----BEGIN PRIVATE KEY-----\nMIIE",
          "key: PRIVATE KEY", "session " + session}) {
        assert_true(keyauth::looks_secret(secret));
        AuditEvent event = gen_of("myapp01");
        event.result = keyauth::make_error(keyauth::Errc::invalid_argument, secret);
        event.add("note", secret);
        const std::string line = keyauth::audit_line(event, AuditProcess{"root", 0, {}, {}});
        assert_sv_equal(line,
                        "audit: action=gen client=myapp01 result=failed error=\"[redacted]\" "
                        "user=root uid=0 via=cli registry=/var/lib/keyauth note=\"[redacted]\"");
    }
    // What the trail does keep: serials (20 bytes at most), ids, paths.
    assert_false(keyauth::looks_secret("0123456789abcdef0123456789abcdef01234567"));
    assert_false(keyauth::looks_secret("myapp01"));
    assert_false(keyauth::looks_secret("/var/lib/keyauth"));
}

void the_datagram_is_rfc_3164(void**) {
    std::tm time{};
    time.tm_mon = 0;
    time.tm_mday = 5;
    time.tm_hour = 9;
    time.tm_min = 3;
    time.tm_sec = 7;
    assert_sv_equal(keyauth::syslog_datagram(85, time, "keytool", 812, "audit: action=gen"),
                    "<85>Jan  5 09:03:07 keytool[812]: audit: action=gen");
    time.tm_mon = 11;
    time.tm_mday = 24;
    assert_sv_equal(keyauth::syslog_datagram(84, time, "keyauth-sync", 1, "m"),
                    "<84>Dec 24 09:03:07 keyauth-sync[1]: m");
}

// The test's own syslog: a datagram socket $KEYAUTH_AUDIT_SOCKET names.
void audit_sends_one_datagram_to_the_socket(void**) {
    char dir[] = "/tmp/keyauth-audit.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const std::string path = std::string(dir) + "/log";
    keyauth::UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    assert_int_equal(bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    setenv("KEYAUTH_AUDIT_SOCKET", path.c_str(), 1);

    keyauth::audit(gen_of("myapp01"));
    char received[2048];
    const ssize_t n = recv(fd.get(), received, sizeof received, MSG_DONTWAIT);
    assert_true(n > 0);
    const std::string datagram(received, static_cast<std::size_t>(n));
    assert_sv_equal(datagram.substr(0, 4), "<85>");
    const std::string tail = "test_audit[" + std::to_string(getpid()) +
                             "]: audit: action=gen client=myapp01 result=ok user=";
    assert_true(datagram.find(tail) == 20);

    // No listener: nothing sent, nothing failed.
    unlink(path.c_str());
    keyauth::audit(gen_of("myapp02"));
    setenv("KEYAUTH_AUDIT_SOCKET", (std::string(dir) + "/none").c_str(), 1);
    keyauth::audit(gen_of("myapp03"));
    unsetenv("KEYAUTH_AUDIT_SOCKET");
    rmdir(dir);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_change_made_is_one_line_of_fields_in_order),
        cmocka_unit_test(a_change_refused_gives_the_errors_words),
        cmocka_unit_test(the_console_and_the_fleet_say_who_and_which_revision),
        cmocka_unit_test(every_action_has_its_name),
        cmocka_unit_test(a_value_cannot_forge_a_field_or_a_line),
        cmocka_unit_test(empty_fields_are_left_out_and_long_values_cut),
        cmocka_unit_test(nothing_secret_reaches_the_line),
        cmocka_unit_test(the_datagram_is_rfc_3164),
        cmocka_unit_test(audit_sends_one_datagram_to_the_socket),
    };
    return run_group(tests);
}
