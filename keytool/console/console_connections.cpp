#include "console_connections.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string_view>

#include "keyauth/files.hpp"

namespace keytool::console {
namespace {

bool is_loopback_peer(const sockaddr_storage& peer) {
    if (peer.ss_family == AF_INET) {
        const auto& in4 = reinterpret_cast<const sockaddr_in&>(peer);
        return (ntohl(in4.sin_addr.s_addr) >> 24) == 127;
    }
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
    return peer.ss_family == AF_INET6 &&
           (IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr) ||
            (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr) && in6.sin6_addr.s6_addr[12] == 127));
}

// The address and port of a socket address, as inet_diag names them.
void diag_endpoint(const sockaddr_storage& address, __be16& port, __be32 (&words)[4]) {
    if (address.ss_family == AF_INET) {
        const auto& in4 = reinterpret_cast<const sockaddr_in&>(address);
        port = in4.sin_port;
        std::memcpy(words, &in4.sin_addr, sizeof in4.sin_addr);
    } else {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
        port = in6.sin6_port;
        std::memcpy(words, &in6.sin6_addr, sizeof in6.sin6_addr);
    }
}

constexpr long kPeerGone = -2;

// The uid that opened the peer's end of a loopback connection: the kernel
// looks its socket up by its four ends (as `ss` does); kPeerGone if that
// end is closed already (an orphan, which the kernel counts as root's), -1
// if it cannot be asked.
long loopback_peer_uid(const sockaddr_storage& ours, const sockaddr_storage& peer) {
    static const unsigned loopback_index = if_nametoindex("lo");
    if (loopback_index == 0)
        return -1;
    keyauth::UniqueFd diag(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!diag.valid())
        return -1;
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } query{};
    query.header.nlmsg_len = sizeof query;
    query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    query.header.nlmsg_flags = NLM_F_REQUEST;
    query.request.sdiag_family = static_cast<__u8>(peer.ss_family);
    query.request.sdiag_protocol = IPPROTO_TCP;
    query.request.idiag_states = ~0U;
    // The peer's socket: its source is the peer, its destination us.
    diag_endpoint(peer, query.request.id.idiag_sport, query.request.id.idiag_src);
    diag_endpoint(ours, query.request.id.idiag_dport, query.request.id.idiag_dst);
    // lo's index: with none the kernel finds no socket tied to a device, and
    // any user may tie one to lo (SO_BINDTODEVICE) to go unnamed. A socket
    // tied to no device is found by it too.
    query.request.id.idiag_if = loopback_index;
    query.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    query.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(diag.get(), &query, sizeof query, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(sizeof query))
        return -1;
    alignas(nlmsghdr) char answer[1024];
    const ssize_t got = recv(diag.get(), answer, sizeof answer, 0);
    const auto* reply = reinterpret_cast<const nlmsghdr*>(answer);
    if (got < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(inet_diag_msg))) ||
        !NLMSG_OK(reply, static_cast<unsigned>(got)) || reply->nlmsg_type != SOCK_DIAG_BY_FAMILY)
        return -1;
    const auto* socket = static_cast<const inet_diag_msg*>(NLMSG_DATA(reply));
    return socket->idiag_inode == 0 ? kPeerGone : socket->idiag_uid;
}

}  // namespace

std::string connection_holder(int fd, const std::string& address) {
    sockaddr_storage ours{};
    sockaddr_storage peer{};
    socklen_t ours_size = sizeof ours;
    socklen_t peer_size = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ours), &ours_size) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0 ||
        !is_loopback_peer(peer))
        return address;
    // A peer gone holds nothing: its own holder, no one's share.
    const long uid = loopback_peer_uid(ours, peer);
    if (uid == kPeerGone)
        return "a closed peer";
    // Never the address: a user picks any of 127/8 for each connection.
    return uid < 0 ? "an unnamed loopback peer" : "uid " + std::to_string(uid);
}

void SlowClientGuard::opened(const void* connection, int fd, std::string holder,
                             std::int64_t now_millis) {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_late_locked(now_millis);
    std::size_t total = 0;
    std::size_t from_holder = 0;
    for (const auto& [key, tracked] : connections_) {
        if (tracked.cut)
            continue;
        ++total;
        from_holder += tracked.holder == holder ? 1 : 0;
    }
    Tracked& added = connections_[connection];
    added = Tracked{fd, std::move(holder), now_millis, true, false};
    if (from_holder < limits_.per_holder && total < limits_.total)
        return;
    newcomer_ = &added;
    Tracked* victim =
        slowest(from_holder >= limits_.per_holder ? &added.holder : nullptr, now_millis);
    newcomer_ = nullptr;
    // None slow but the newcomer: it is the one refused.
    cut(victim != nullptr ? *victim : added);
}

void SlowClientGuard::received(const void* connection, std::int64_t now_millis) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = connections_.find(connection); found != connections_.end()) {
        found->second.receiving = false;
        found->second.since = now_millis;
    }
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
        const std::int64_t deadline =
            tracked.receiving ? limits_.request_millis : limits_.answer_millis;
        if (!tracked.cut && now_millis - tracked.since > deadline)
            cut(tracked);
    }
}

bool SlowClientGuard::evictable(const Tracked& tracked, std::int64_t now_millis) const {
    if (tracked.cut || &tracked == newcomer_)
        return false;
    return tracked.receiving || now_millis - tracked.since > limits_.slow_answer_millis;
}

SlowClientGuard::Tracked* SlowClientGuard::slowest(const std::string* holder,
                                                   std::int64_t now_millis) {
    const std::string* heaviest = holder;
    if (heaviest == nullptr) {
        std::map<std::string_view, std::size_t> held;
        std::size_t most = 0;
        for (const auto& [key, tracked] : connections_) {
            if (!evictable(tracked, now_millis))
                continue;
            if (const std::size_t count = ++held[tracked.holder]; count > most) {
                most = count;
                heaviest = &tracked.holder;
            }
        }
        if (heaviest == nullptr)
            return nullptr;
    }
    // A request still coming before an answer going: a slow reader has had
    // its request answered, a trickler nothing yet.
    Tracked* oldest_receiving = nullptr;
    Tracked* oldest_reader = nullptr;
    for (auto& [key, tracked] : connections_) {
        if (!evictable(tracked, now_millis) || tracked.holder != *heaviest)
            continue;
        Tracked*& oldest = tracked.receiving ? oldest_receiving : oldest_reader;
        if (oldest == nullptr || tracked.since < oldest->since)
            oldest = &tracked;
    }
    return oldest_receiving != nullptr ? oldest_receiving : oldest_reader;
}

void SlowClientGuard::cut(Tracked& tracked) {
    tracked.cut = true;
    cut_(tracked.fd);
}

}  // namespace keytool::console
