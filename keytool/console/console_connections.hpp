// keytool serve against clients that hold its connections by sending their
// requests slowly (slowloris) or reading their answers slowly: a request must
// arrive whole, headers and body, within a deadline, its answer must be sent
// within another, and a full server makes room by cutting the oldest
// connection still sending its request, else the oldest slow reader, of the
// holder with the most, so a new request (the operator's) is answered while
// anyone trickles bytes. Idle time alone is no limit: one byte every few
// seconds keeps a connection busy forever.
//
// A holder is who the limits count: the local user that opened a connection
// from this host, through any of its addresses (every local user shares
// 127.0.0.1 and the host's other addresses with the operator, and may bind
// any 127/8 address), else the peer's address (connection_holder).
#pragma once

#include <linux/inet_diag.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace keytool::console {

// Who holds an accepted connection, for the limits: "uid N" for a peer whose
// end is a socket on this host (from the kernel's socket table:
// NETLINK_SOCK_DIAG), one shared holder for loopback peers the kernel cannot
// name, else its address.
std::string connection_holder(int fd, const std::string& address);

constexpr long kNotThePeer = -1;  // no answer, or not the socket asked for
constexpr long kPeerGone = -2;    // closed already: an orphan, counted as root's
// The uid in the kernel's answer to `asked` (the peer's socket by its four
// ends: the peer as source, our end as destination) when the answer is that
// very socket, just connected; kNotThePeer for any other (a listener the
// lookup fell back to, another connection), kPeerGone for an orphan.
long peer_uid_in_reply(const inet_diag_req_v2& asked, const inet_diag_msg& reply);

class SlowClientGuard {
  public:
    struct Limits {
        // From the connection, or the last answer on it, to the whole request.
        std::int64_t request_millis;
        // From the whole request to its answer sent: a reader slower than
        // this is cut.
        std::int64_t answer_millis;
        // An answer still being sent this long after its request makes its
        // connection one a full holder or server may cut.
        std::int64_t slow_answer_millis;
        std::size_t per_holder;  // connections one holder holds
        std::size_t total;       // connections all together
    };
    // cut(fd) ends a connection (shutdown: the server then closes it). Called
    // under the guard's lock: closed() for that connection waits for it, so
    // the descriptor is never one the server already closed and reused.
    using Cut = std::function<void(int fd)>;

    SlowClientGuard(Limits limits, Cut cut) : limits_(limits), cut_(std::move(cut)) {}

    // A new connection: it, or a slow one, is cut when it would exceed a limit.
    void opened(const void* connection, int fd, std::string holder, std::int64_t now_millis);
    // Its request is in: the answer's deadline runs from now.
    void received(const void* connection, std::int64_t now_millis);
    // Its answer is sent: the next request on it (keep-alive) has a deadline.
    void answered(const void* connection, std::int64_t now_millis);
    void closed(const void* connection);
    // Cuts every connection whose request or answer is past its deadline.
    void cut_late(std::int64_t now_millis);

  private:
    struct Tracked {
        int fd = -1;
        std::string holder;
        std::int64_t since = 0;  // when its request started, or its answer
        bool receiving = true;
        bool cut = false;
    };
    void cut_late_locked(std::int64_t now_millis);
    // The oldest connection still receiving, else the oldest slow reader,
    // of holder if given, else of the holder with the most such; nullptr if
    // every one is answered promptly.
    Tracked* slowest(const std::string* holder, std::int64_t now_millis);
    // Still receiving, or answering for longer than slow_answer_millis; never
    // the connection being opened (it is refused only when none is).
    bool evictable(const Tracked& tracked, std::int64_t now_millis) const;
    void cut(Tracked& tracked);

    const Limits limits_;
    const Cut cut_;
    std::mutex mutex_;
    std::unordered_map<const void*, Tracked> connections_;
    const Tracked* newcomer_ = nullptr;  // the one opened() is making room for
};

}  // namespace keytool::console
