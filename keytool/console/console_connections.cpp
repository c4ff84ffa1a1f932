#include "console_connections.hpp"

#include <map>
#include <string_view>

namespace keytool::console {

void SlowClientGuard::opened(const void* connection, int fd, std::string address,
                             std::int64_t now_millis) {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_late_locked(now_millis);
    std::size_t total = 0;
    std::size_t from_address = 0;
    for (const auto& [key, tracked] : connections_) {
        if (tracked.cut)
            continue;
        ++total;
        from_address += tracked.address == address ? 1 : 0;
    }
    Tracked& added = connections_[connection];
    added = Tracked{fd, std::move(address), now_millis, true, false};
    Tracked* victim = nullptr;
    if (from_address >= limits_.per_address) {
        victim = slowest(&added.address);
    } else if (total >= limits_.total) {
        victim = slowest(nullptr);
    } else {
        return;
    }
    // None still receiving but the newcomer: it is the one refused.
    cut(victim != nullptr ? *victim : added);
}

void SlowClientGuard::received(const void* connection) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = connections_.find(connection); found != connections_.end())
        found->second.receiving = false;
}

void SlowClientGuard::answered(const void* connection, std::int64_t now_millis) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = connections_.find(connection); found != connections_.end()) {
        found->second.receiving = true;
        found->second.since = now_millis;
    }
}

void SlowClientGuard::closed(const void* connection) {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.erase(connection);
}

void SlowClientGuard::cut_late(std::int64_t now_millis) {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_late_locked(now_millis);
}

void SlowClientGuard::cut_late_locked(std::int64_t now_millis) {
    for (auto& [key, tracked] : connections_) {
        if (tracked.receiving && !tracked.cut &&
            now_millis - tracked.since > limits_.request_millis)
            cut(tracked);
    }
}

SlowClientGuard::Tracked* SlowClientGuard::slowest(const std::string* address) {
    const std::string* heaviest = address;
    if (heaviest == nullptr) {
        std::map<std::string_view, std::size_t> held;
        std::size_t most = 0;
        for (const auto& [key, tracked] : connections_) {
            if (tracked.cut || !tracked.receiving)
                continue;
            if (const std::size_t count = ++held[tracked.address]; count > most) {
                most = count;
                heaviest = &tracked.address;
            }
        }
        if (heaviest == nullptr)
            return nullptr;
    }
    Tracked* oldest = nullptr;
    for (auto& [key, tracked] : connections_) {
        if (tracked.cut || !tracked.receiving || tracked.address != *heaviest)
            continue;
        if (oldest == nullptr || tracked.since < oldest->since)
            oldest = &tracked;
    }
    return oldest;
}

void SlowClientGuard::cut(Tracked& tracked) {
    tracked.cut = true;
    cut_(tracked.fd);
}

}  // namespace keytool::console
