// keytool serve against clients that hold its connections by sending their
// requests slowly (slowloris): a request must arrive whole, headers and body,
// within a deadline, and a full server makes room by cutting the oldest
// connection still sending its request, from the address holding the most,
// so a new request (the operator's) is answered while anyone trickles bytes.
// Idle time alone is no limit: one byte every few seconds keeps a
// connection busy forever.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace keytool::console {

class SlowClientGuard {
  public:
    struct Limits {
        // From the connection, or the last answer on it, to the whole request.
        std::int64_t request_millis;
        std::size_t per_address;  // connections one address holds
        std::size_t total;        // connections all together
    };
    // cut(fd) ends a connection (shutdown: the server then closes it). Called
    // under the guard's lock: closed() for that connection waits for it, so
    // the descriptor is never one the server already closed and reused.
    using Cut = std::function<void(int fd)>;

    SlowClientGuard(Limits limits, Cut cut) : limits_(limits), cut_(std::move(cut)) {}

    // A new connection: it, or a slow one, is cut when it would exceed a limit.
    void opened(const void* connection, int fd, std::string address, std::int64_t now_millis);
    // Its request is in: no deadline while it is answered.
    void received(const void* connection);
    // Its answer is sent: the next request on it (keep-alive) has a deadline.
    void answered(const void* connection, std::int64_t now_millis);
    void closed(const void* connection);
    // Cuts every connection whose request is past its deadline.
    void cut_late(std::int64_t now_millis);

  private:
    struct Tracked {
        int fd = -1;
        std::string address;
        std::int64_t since = 0;  // when its request started
        bool receiving = true;
        bool cut = false;
    };
    void cut_late_locked(std::int64_t now_millis);
    // The oldest connection still receiving, of address if given, else of
    // the address holding the most; nullptr if every one is being answered.
    Tracked* slowest(const std::string* address);
    void cut(Tracked& tracked);

    const Limits limits_;
    const Cut cut_;
    std::mutex mutex_;
    std::unordered_map<const void*, Tracked> connections_;
};

}  // namespace keytool::console
