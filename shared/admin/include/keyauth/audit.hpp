// The audit trail: every change to the registry, made or refused, as one
// structured line in syslog (facility authpriv, which journald and rsyslog
// keep apart from the world-readable logs). keytool, its console and
// keyauth-sync each make one AuditEvent per outcome and call audit().
//
//   keytool[812]: audit: action=gen client=myapp01 result=ok user=root uid=0
//                 via=cli registry=/var/lib/keyauth serial=5a1f...
//
// An event has no field for a secret, and audit_line() redacts any value that
// still looks like one (a token, a PEM block, 64 hex digits): an error message
// quoting one must not carry it into a log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keyauth/result.hpp"

namespace keyauth {

// Every change keyauth names. rotate, suspend and resume are named ahead of
// their commands, so that the log's vocabulary is fixed before they come.
enum class AuditAction {
    init,         // keytool init: a CA, server certificate, hosts or group
    gen,          // a client registered (or replaced: replace=yes)
    del,          // a client deleted
    rotate,       // a client's credentials renewed
    suspend,      // a client refused until resumed
    resume,       // a suspended client admitted again
    server_cert,  // a server certificate issued by the CA
    fleet_apply,  // keyauth-sync applied a fleet change to its host's registry
};

// "init", "gen", "del", "rotate", "suspend", "resume", "server-cert",
// "fleet-apply": as operators type and grep them.
std::string_view audit_action_name(AuditAction action);

struct AuditEvent {
    AuditAction action = AuditAction::gen;
    std::string client_id;  // empty: the change names no client (init, server-cert)
    Status result;          // ok, or the error whose words the line gives
    // Who asked, besides the process's user: "cli", "console" or "sync".
    std::string via;
    std::string session;  // the console session's public label (never its cookie)
    std::string peer;     // the console's browser address
    // The etcd revision the change got (keytool --etcd) or applied
    // (keyauth-sync); nullopt when there is none or it is not known.
    std::optional<std::int64_t> revision;
    // Anything else an investigator wants and that is not secret: the
    // registry, hosts, days, the new certificate's serial. In this order.
    std::vector<std::pair<std::string, std::string>> details;

    AuditEvent& add(std::string key, std::string value) {
        details.emplace_back(std::move(key), std::move(value));
        return *this;
    }
};

// Who the process runs as: the user and uid, the login uid the kernel keeps
// across su and sudo (when set), and sudo's SUDO_USER (when root).
struct AuditProcess {
    std::string user;
    uid_t uid = 0;
    std::optional<std::uint32_t> login_uid;
    std::string sudo_user;
};
AuditProcess current_audit_process();

// The message, without syslog's header: "audit: action=gen client=myapp01
// result=ok user=root uid=0 ...". Keys in a fixed order, empty fields left
// out; a value is bare when it is only [A-Za-z0-9._:/@,+-], else in double
// quotes with \" \\ and \xHH for control and non-ASCII bytes, so no value
// can end the line or pose as another field. Long values are cut at 1024
// bytes.
std::string audit_line(const AuditEvent& event, const AuditProcess& process);

// Would the text carry a secret into a log? (audit_line writes "[redacted]"
// instead.)
bool looks_secret(std::string_view text);

// authpriv.notice (85) for a change made, authpriv.warning (84) for one refused.
int audit_priority(const AuditEvent& event);

// One RFC 3164 datagram: "<85>Jan  5 09:03:07 keytool[812]: audit: ...".
std::string syslog_datagram(int priority, const std::tm& local_time, std::string_view tag,
                            pid_t pid, std::string_view message);

// Where audit() sends: $KEYAUTH_AUDIT_SOCKET (a Unix datagram socket, for
// tests) or /dev/log.
inline constexpr std::string_view kAuditSocketEnvVar = "KEYAUTH_AUDIT_SOCKET";
inline constexpr std::string_view kSyslogSocket = "/dev/log";

// Sends the event to syslog, tagged with the program's name and pid. Never
// fails the caller and never throws: with no syslog socket (a container), or
// one that does not take the line within a second, the line is dropped.
void audit(const AuditEvent& event) noexcept;

}  // namespace keyauth
