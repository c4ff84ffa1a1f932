#include "sys_topics.hpp"

#include <cstdio>
#include <iterator>
#include <string_view>

#include "broker_api.hpp"

namespace keyauth::mqtt {
namespace {

constexpr std::string_view kPrefix = "$SYS/broker/keyauth/";

std::string topic(std::string_view tail) {
    std::string t(kPrefix);
    t += tail;
    return t;
}

}  // namespace

SysTopics::SysTopics(std::int64_t interval_seconds) : interval_(interval_seconds) {
    if (interval_seconds <= 0)
        return;
    for (std::size_t v = 0; v < kVerdicts; ++v) {
        const std::string name(verdict_name(static_cast<Verdict>(v)));
        if (verdict_as_counted(static_cast<Verdict>(v)) == static_cast<Verdict>(v)) {
            topics_[v] = topic("connects/token/" + name);
            topics_[kVerdicts + v] = topic("connects/certificate/" + name);
        }
        // A session is cut by what the registry says now; never "accepted".
        if (static_cast<Verdict>(v) != Verdict::accepted)
            topics_[kCutByReason + v] = topic("sessions/cut/" + name);
    }
    topics_[kCutTotal] = topic("sessions/cut");
    topics_[kTracked] = topic("sessions/tracked");
    topics_[kRegistryErrors] = topic("registry/errors");
    topics_[kCacheHits] = topic("verification_cache/hits");
    topics_[kCacheMisses] = topic("verification_cache/misses");
}

void SysTopics::publish_when_due(std::chrono::steady_clock::time_point now,
                                 std::size_t sessions_tracked) {
    if (interval_.count() <= 0 || now < next_)
        return;
    next_ = now + interval_;
    values_[kTracked] = sessions_tracked;
    for (std::size_t i = 0; i < kSlots; ++i) {
        if (topics_[i].empty() || (sent_[i] && values_[i] == published_[i]))
            continue;
        char payload[24];
        const int length = std::snprintf(payload, sizeof payload, "%llu",
                                         static_cast<unsigned long long>(values_[i]));
        // Retained, QoS 0, as the broker's own $SYS; a failure (out of
        // memory) is tried again at the next interval.
        if (mosquitto_broker_publish_copy(nullptr, topics_[i].c_str(), length, payload, 0, true,
                                          nullptr) == MOSQ_ERR_SUCCESS) {
            published_[i] = values_[i];
            sent_[i] = true;
        }
    }
}

}  // namespace keyauth::mqtt
