// The plugin's counters under $SYS/broker/keyauth/, published as the broker
// publishes its own $SYS: retained, every plugin_opt_sys_interval seconds,
// a topic only when its value changed, and every topic once at start.
// Counting costs an array increment; only the tick formats and publishes.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <keyauth/authenticator.hpp>

namespace keyauth::mqtt {

// The broker's own default sys_interval.
inline constexpr std::int64_t kDefaultSysInterval = 10;

class SysTopics {
  public:
    // interval_seconds 0: nothing is published (as sys_interval 0 does).
    explicit SysTopics(std::int64_t interval_seconds = kDefaultSysInterval);

    // A CONNECT's verdict, about the credential it judged.
    // A wrong secret is counted as an unknown client (verdict_as_counted).
    void connect(CredentialKind kind, Verdict verdict) noexcept {
        ++values_[connect_slot(kind, verdict_as_counted(verdict))];
        if (verdict == Verdict::registry_error)
            ++values_[kRegistryErrors];
    }
    // A live session the plugin disconnected, and why.
    void session_cut(Verdict why) noexcept {
        ++values_[kCutTotal];
        ++values_[kCutByReason + static_cast<std::size_t>(why)];
    }
    // Whether a token's verdict came from the verification cache.
    void verification_cache(CacheUse use) noexcept {
        if (use == CacheUse::hit)
            ++values_[kCacheHits];
        else if (use == CacheUse::miss)
            ++values_[kCacheMisses];
    }
    // The sweep found the registry unreadable (once an outage).
    void registry_unreadable() noexcept { ++values_[kRegistryErrors]; }

    // From the tick: publishes what changed when the interval is over.
    void publish_when_due(std::chrono::steady_clock::time_point now, std::size_t sessions_tracked);

  private:
    // connects by kind and verdict, cuts by reason, then five totals
    static constexpr std::size_t kSlots = 2 * kVerdicts + kVerdicts + 5;
    static constexpr std::size_t kCutByReason = 2 * kVerdicts;
    static constexpr std::size_t kCutTotal = kCutByReason + kVerdicts;
    static constexpr std::size_t kTracked = kCutTotal + 1;
    static constexpr std::size_t kRegistryErrors = kTracked + 1;
    static constexpr std::size_t kCacheHits = kRegistryErrors + 1;
    static constexpr std::size_t kCacheMisses = kCacheHits + 1;

    static std::size_t connect_slot(CredentialKind kind, Verdict verdict) noexcept {
        return (kind == CredentialKind::certificate ? kVerdicts : 0) +
               static_cast<std::size_t>(verdict);
    }

    std::chrono::seconds interval_;
    std::chrono::steady_clock::time_point next_{};
    std::array<std::uint64_t, kSlots> values_{};
    std::array<std::uint64_t, kSlots> published_{};
    std::array<bool, kSlots> sent_{};         // published at least once
    std::array<std::string, kSlots> topics_;  // empty: a slot never published
};

}  // namespace keyauth::mqtt
