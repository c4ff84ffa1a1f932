#include "metrics.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "keyauth/clock.hpp"

namespace keysync {

using keyauth::Errc;
using keyauth::make_error;

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help,
            long long value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

long long since_contact(const SyncMetrics& m, std::int64_t now) {
    const std::int64_t contact = m.last_contact.load();
    return contact == 0 ? -1 : static_cast<long long>(now - contact);
}

// "ADDR:PORT" or "[ADDR6]:PORT", numeric only: what to bind is never looked up.
keyauth::Result<sockaddr_storage> parse_address(const std::string& text) {
    const auto bad = make_error(Errc::invalid_argument,
                                "--metrics needs ADDR:PORT (127.0.0.1:9470, [::1]:9470), not '" +
                                    text + "'");
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 >= text.size())
        return bad;
    std::string host = text.substr(0, colon);
    const std::string port_text = text.substr(colon + 1);
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return bad;
    sockaddr_storage address{};
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(static_cast<std::uint16_t>(port));
        if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) != 1)
            return bad;
        return address;
    }
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) != 1)
        return bad;
    return address;
}

}  // namespace

std::string prometheus_text(const SyncMetrics& m, std::int64_t now) {
    std::string out;
    metric(out, "keyauth_sync_etcd_revision", "gauge",
           "etcd's revision at the last heartbeat it answered", m.etcd_revision.load());
    metric(out, "keyauth_sync_applied_revision", "gauge",
           "the etcd revision this host's registry holds", m.applied_revision.load());
    metric(out, "keyauth_sync_last_contact_timestamp_seconds", "gauge",
           "when etcd last answered a heartbeat (0: never)", m.last_contact.load());
    metric(out, "keyauth_sync_seconds_since_contact", "gauge",
           "seconds since etcd last answered a heartbeat (-1: never)", since_contact(m, now));
    metric(out, "keyauth_sync_clients", "gauge", "clients in this host's registry",
           m.clients.load());
    metric(out, "keyauth_sync_held", "gauge",
           "1 while a change that would lose too many clients is refused (HELD)",
           m.held.load() ? 1 : 0);
    metric(out, "keyauth_sync_changes_applied_total", "counter",
           "client changes applied from etcd's watch",
           static_cast<long long>(m.changes_applied.load()));
    metric(out, "keyauth_sync_watch_commits_total", "counter",
           "registry transactions that applied them (what etcd sent meanwhile goes in one)",
           static_cast<long long>(m.watch_commits.load()));
    metric(out, "keyauth_sync_rebuilds_total", "counter", "registries rebuilt from a snapshot",
           static_cast<long long>(m.rebuilds.load()));
    metric(out, "keyauth_sync_quiet_revisions_followed_total", "counter",
           "etcd's revision taken as this host's when nothing under /keyauth/ changed up to it "
           "(writes elsewhere in etcd), so that compaction never forces a rebuild",
           static_cast<long long>(m.quiet_advances.load()));
    metric(out, "keyauth_sync_digest_checks_total", "counter",
           "the whole registry compared with etcd by digest (equal or not)",
           static_cast<long long>(m.digest_checks.load()));
    metric(out, "keyauth_sync_watch_reconnects_total", "counter",
           "watches that broke and were started again",
           static_cast<long long>(m.watch_reconnects.load()));
    metric(out, "keyauth_sync_fleet_key_counts_total", "counter",
           "counts of the keys under /keyauth/ asked of etcd (each a walk of them all) to "
           "tell a change it is slow to send from writes elsewhere",
           static_cast<long long>(m.fleet_key_counts.load()));
    metric(out, "keyauth_sync_errors_total", "counter",
           "failed steps: etcd unreachable, a rebuild or a digest check that failed",
           static_cast<long long>(m.errors.load()));
    metric(out, "keyauth_sync_last_use_published_total", "counter",
           "last-use shards put into etcd (--publish-last-use; only those that changed)",
           static_cast<long long>(m.last_use_published.load()));
    metric(out, "keyauth_sync_last_use_publish_errors_total", "counter",
           "last-use publications that failed (a file unreadable, etcd unreachable)",
           static_cast<long long>(m.last_use_publish_errors.load()));
    return out;
}

Health health_of(const SyncMetrics& m, std::int64_t now, std::chrono::seconds max_stale) {
    if (m.held.load())
        return {false, "HELD: a change that would lose too many clients is refused (see the log)"};
    const long long since = since_contact(m, now);
    if (since < 0)
        return {false, "no contact with etcd yet"};
    if (since > max_stale.count())
        return {false, "STALE: no contact with etcd for " + std::to_string(since) + " s"};
    return {true, "ok: revision " + std::to_string(m.applied_revision.load())};
}

struct MetricsEndpoint::Impl {
    std::shared_ptr<const SyncMetrics> metrics;
    std::chrono::seconds max_stale{30};
    MHD_Daemon* daemon = nullptr;

    static MHD_Result answer(void* self, MHD_Connection* connection, const char* url,
                             const char* method, const char*, const char*, size_t*, void**) {
        const Impl& impl = *static_cast<Impl*>(self);
        unsigned status = MHD_HTTP_OK;
        std::string body;
        const char* type = "text/plain; charset=utf-8";
        const std::int64_t now = keyauth::unix_now();
        if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
            status = MHD_HTTP_METHOD_NOT_ALLOWED;
            body = "GET only\n";
        } else if (std::strcmp(url, "/metrics") == 0) {
            body = prometheus_text(*impl.metrics, now);
            type = "text/plain; version=0.0.4; charset=utf-8";
        } else if (std::strcmp(url, "/healthz") == 0) {
            const Health health = health_of(*impl.metrics, now, impl.max_stale);
            status = health.ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
            body = health.why + "\n";
        } else {
            status = MHD_HTTP_NOT_FOUND;
            body = "/metrics or /healthz\n";
        }
        MHD_Response* response = MHD_create_response_from_buffer(
            body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
        if (response == nullptr)
            return MHD_NO;
        MHD_add_response_header(response, "Content-Type", type);
        const MHD_Result queued = MHD_queue_response(connection, status, response);
        MHD_destroy_response(response);
        return queued;
    }
};

keyauth::Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(
    const std::string& address, std::shared_ptr<const SyncMetrics> metrics,
    std::chrono::seconds max_stale) {
    auto parsed = parse_address(address);
    if (!parsed)
        return parsed.error();
    auto impl = std::make_unique<Impl>();
    impl->metrics = std::move(metrics);
    impl->max_stale = max_stale;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (parsed->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    impl->daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Impl::answer, impl.get(),
                                    MHD_OPTION_SOCK_ADDR, &*parsed,
                                    MHD_OPTION_CONNECTION_LIMIT, 16u,
                                    MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_END);
    if (impl->daemon == nullptr)
        return make_error(Errc::io_error, "--metrics: cannot listen on " + address +
                                              " (in use, or not an address of this host)");
    return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(impl)));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsEndpoint::~MetricsEndpoint() {
    if (impl_ && impl_->daemon != nullptr)
        MHD_stop_daemon(impl_->daemon);
}

}  // namespace keysync
