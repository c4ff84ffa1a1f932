#include "keyauth/audit.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "keyauth/files.hpp"

namespace keyauth {
namespace {

constexpr std::size_t kMaxValueBytes = 1024;
// Longer than any serial (20 bytes), as long as a token's or a session's secret.
constexpr std::size_t kSecretHexRun = 48;
constexpr int kAuthpriv = 10 << 3;  // LOG_AUTHPRIV, without <syslog.h>'s macros
constexpr int kWarning = 4;
constexpr int kNotice = 5;

bool is_bare(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("._:/@,+-", c) != nullptr;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// key=value, the value bare or quoted (see audit_line).
void append_field(std::string& line, std::string_view key, std::string_view value) {
    if (value.empty())
        return;
    const std::string_view shown = looks_secret(value) ? "[redacted]" : value;
    const std::string_view kept = shown.substr(0, kMaxValueBytes);
    line += ' ';
    line += key;
    line += '=';
    bool bare = kept.size() == shown.size();
    for (char c : kept)
        bare = bare && is_bare(c);
    if (bare) {
        line += kept;
        return;
    }
    line += '"';
    for (char c : kept) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            line += '\\';
            line += c;
        } else if (byte < 0x20 || byte >= 0x7f) {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
            line += escaped;
        } else {
            line += c;
        }
    }
    if (kept.size() < shown.size())
        line += "...";
    line += '"';
}

std::optional<std::uint32_t> read_login_uid() {
    std::ifstream file("/proc/self/loginuid");
    unsigned long value = 0;
    // (uid_t)-1: no login recorded (a daemon, a container).
    if (!(file >> value) || value >= 0xffffffffUL)
        return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

}  // namespace

std::string_view audit_action_name(AuditAction action) {
    switch (action) {
    case AuditAction::init:
        return "init";
    case AuditAction::gen:
        return "gen";
    case AuditAction::del:
        return "del";
    case AuditAction::rotate:
        return "rotate";
    case AuditAction::suspend:
        return "suspend";
    case AuditAction::resume:
        return "resume";
    case AuditAction::server_cert:
        return "server-cert";
    case AuditAction::fleet_apply:
        return "fleet-apply";
    }
    return "unknown";
}

bool looks_secret(std::string_view text) {
    if (text.find("-----BEGIN") != std::string_view::npos ||
        text.find("PRIVATE KEY") != std::string_view::npos)
        return true;
    std::size_t run = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        run = is_hex(text[i]) ? run + 1 : 0;
        if (run >= kSecretHexRun)
            return true;
        // A token's secret follows ":b:"; even its first digits stay out.
        if (text.compare(i, 3, ":b:") == 0 && i + 3 < text.size() && is_hex(text[i + 3]))
            return true;
    }
    return false;
}

AuditProcess current_audit_process() {
    AuditProcess process;
    process.uid = getuid();
    if (auto name = name_of_user(process.uid))
        process.user = std::move(*name);
    process.login_uid = read_login_uid();
    if (process.uid == 0) {
        if (const char* sudo_user = std::getenv("SUDO_USER"); sudo_user != nullptr)
            process.sudo_user = sudo_user;
    }
    return process;
}

std::string audit_line(const AuditEvent& event, const AuditProcess& process) {
    std::string line = "audit:";
    append_field(line, "action", audit_action_name(event.action));
    append_field(line, "client", event.client_id);
    append_field(line, "result", event.result ? "ok" : "failed");
    if (!event.result)
        append_field(line, "error", event.result.error().message);
    append_field(line, "user", process.user);
    append_field(line, "uid", std::to_string(process.uid));
    if (process.login_uid)
        append_field(line, "loginuid", std::to_string(*process.login_uid));
    append_field(line, "sudo_user", process.sudo_user);
    append_field(line, "via", event.via);
    append_field(line, "session", event.session);
    append_field(line, "from", event.peer);
    if (event.revision)
        append_field(line, "revision", std::to_string(*event.revision));
    for (const auto& [key, value] : event.details)
        append_field(line, key, value);
    return line;
}

int audit_priority(const AuditEvent& event) {
    return kAuthpriv | (event.result ? kNotice : kWarning);
}

std::string syslog_datagram(int priority, const std::tm& local_time, std::string_view tag,
                            pid_t pid, std::string_view message) {
    // RFC 3164's timestamp, in English whatever the locale.
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char header[64];
    std::snprintf(header, sizeof header, "<%d>%s %2d %02d:%02d:%02d ", priority,
                  kMonths[(local_time.tm_mon % 12 + 12) % 12], local_time.tm_mday,
                  local_time.tm_hour, local_time.tm_min, local_time.tm_sec);
    std::string datagram = header;
    datagram += tag;
    datagram += '[' + std::to_string(pid) + "]: ";
    datagram += message;
    return datagram;
}

void audit(const AuditEvent& event) noexcept {
    try {
        const char* override_path = std::getenv(std::string(kAuditSocketEnvVar).c_str());
        const std::string path = override_path != nullptr && *override_path != '\0'
                                     ? override_path
                                     : std::string(kSyslogSocket);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        if (path.size() >= sizeof address.sun_path)
            return;
        std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
        UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!fd.valid())
            return;
        // A syslog daemon that stops reading must not stop a change.
        const timeval timeout{1, 0};
        setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
            return;  // no syslog here: nothing to keep the line
        const std::time_t now = std::time(nullptr);
        std::tm local{};
        localtime_r(&now, &local);
        const std::string datagram =
            syslog_datagram(audit_priority(event), local, program_invocation_short_name, getpid(),
                            audit_line(event, current_audit_process()));
        const ssize_t ignored = send(fd.get(), datagram.data(), datagram.size(), MSG_NOSIGNAL);
        (void)ignored;
    } catch (...) {
        // Out of memory while auditing: the change itself stands.
    }
}

}  // namespace keyauth
