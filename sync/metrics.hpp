// What keyauth-sync says about itself, for Prometheus and a health check:
// kept by the replica's loop and watcher, read by the endpoint's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "keyauth/result.hpp"

namespace keysync {

struct SyncMetrics {
    std::atomic<std::int64_t> etcd_revision{0};     // etcd's, at the last heartbeat answered
    std::atomic<std::int64_t> applied_revision{0};  // the registry's
    std::atomic<std::int64_t> last_contact{0};      // Unix time of that heartbeat (0: none)
    std::atomic<std::int64_t> clients{0};
    std::atomic<std::uint64_t> changes_applied{0};
    std::atomic<std::uint64_t> watch_commits{0};  // transactions that applied them
    std::atomic<std::uint64_t> rebuilds{0};
    std::atomic<std::uint64_t> digest_checks{0};     // whole registry compared with etcd
    std::atomic<std::uint64_t> quiet_advances{0};    // etcd's revision taken: nothing of ours changed
    std::atomic<std::uint64_t> watch_reconnects{0};  // a watch that broke and was started again
    // The keys under /keyauth/ counted after a watch session that brought
    // nothing while etcd was ahead (a walk of etcd's index of them all).
    std::atomic<std::uint64_t> fleet_key_counts{0};
    std::atomic<std::uint64_t> errors{0};            // etcd unreachable, a step failed
    std::atomic<bool> held{false};
    // --publish-last-use: shards put into etcd (only those that changed), and
    // passes that failed (a file unreadable, etcd unreachable).
    std::atomic<std::uint64_t> last_use_published{0};
    std::atomic<std::uint64_t> last_use_publish_errors{0};
};

// The Prometheus text exposition (version 0.0.4) of `metrics` at `now`.
std::string prometheus_text(const SyncMetrics& metrics, std::int64_t now);

// Healthy: not held, and etcd answered within `max_stale`. `why` says
// what is wrong, or the revision served when nothing is.
struct Health {
    bool ok = false;
    std::string why;
};
Health health_of(const SyncMetrics& metrics, std::int64_t now, std::chrono::seconds max_stale);

// GET /metrics and GET /healthz on ADDR:PORT ("127.0.0.1:9470",
// "[::1]:9470"), on a thread of its own, until destroyed.
class MetricsEndpoint {
  public:
    static keyauth::Result<std::unique_ptr<MetricsEndpoint>> start(
        const std::string& address, std::shared_ptr<const SyncMetrics> metrics,
        std::chrono::seconds max_stale);
    ~MetricsEndpoint();
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    struct Impl;

  private:
    explicit MetricsEndpoint(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace keysync
