#include "console_connections.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string_view>

#include "keyauth/files.hpp"

namespace keytool::console {
namespace {

// An address and port as inet_diag names them, IPv4 in IPv6's v4-mapped
// form: an IPv4 peer accepted by an IPv6 listener, or an IPv6 socket that
// reached an IPv4 address, is the same connection as its IPv4 self.
struct Endpoint {
    in6_addr address{};
    __be16 port = 0;

    bool is_v4() const { return IN6_IS_ADDR_V4MAPPED(&address); }
    bool operator==(const Endpoint& other) const {
        return port == other.port && IN6_ARE_ADDR_EQUAL(&address, &other.address);
    }
};

Endpoint v4_endpoint(const void* address, __be16 port) {
    Endpoint endpoint;
    endpoint.address.s6_addr[10] = 0xff;
    endpoint.address.s6_addr[11] = 0xff;
    std::memcpy(&endpoint.address.s6_addr[12], address, 4);
    endpoint.port = port;
    return endpoint;
}

Endpoint endpoint_of(const sockaddr& address) {
    if (address.sa_family == AF_INET) {
        const auto& in4 = reinterpret_cast<const sockaddr_in&>(address);
        return v4_endpoint(&in4.sin_addr, in4.sin_port);
    }
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    return {in6.sin6_addr, in6.sin6_port};
}

// One end of a socket in the kernel's answer: the address words are the
// family's (IPv4's first word only).
Endpoint endpoint_of(std::uint8_t family, const __be32 (&words)[4], __be16 port) {
    if (family == AF_INET)
        return v4_endpoint(&words[0], port);
    Endpoint endpoint;
    std::memcpy(&endpoint.address, words, sizeof endpoint.address);
    endpoint.port = port;
    return endpoint;
}

// The address words of an end in a question of `family`.
void diag_words(const Endpoint& endpoint, std::uint8_t family, __be32 (&words)[4]) {
    if (family == AF_INET)
        std::memcpy(&words[0], &endpoint.address.s6_addr[12], 4);
    else
        std::memcpy(words, &endpoint.address, sizeof endpoint.address);
}

bool is_loopback(const Endpoint& peer) {
    return IN6_IS_ADDR_LOOPBACK(&peer.address) || (peer.is_v4() && peer.address.s6_addr[12] == 127);
}

// The index of the interface that holds `address`, 0 if none does.
unsigned device_holding(const in6_addr& address) {
    ifaddrs* all = nullptr;
    if (getifaddrs(&all) != 0)
        return 0;
    unsigned device = 0;
    for (const ifaddrs* each = all; each != nullptr && device == 0; each = each->ifa_next) {
        if (each->ifa_addr == nullptr ||
            (each->ifa_addr->sa_family != AF_INET && each->ifa_addr->sa_family != AF_INET6))
            continue;
        const Endpoint held = endpoint_of(*each->ifa_addr);
        if (IN6_ARE_ADDR_EQUAL(&held.address, &address))
            device = if_nametoindex(each->ifa_name);
    }
    freeifaddrs(all);
    return device;
}

// The peer's socket asked of the kernel by its four ends, on interface
// `device`: the uid in the answer when it is that very socket.
long ask_for_peer_socket(int diag, const Endpoint& ours, const Endpoint& peer, unsigned device) {
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } query{};
    query.header.nlmsg_len = sizeof query;
    query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    query.header.nlmsg_flags = NLM_F_REQUEST;
    query.request.sdiag_family = ours.is_v4() && peer.is_v4() ? AF_INET : AF_INET6;
    query.request.sdiag_protocol = IPPROTO_TCP;
    query.request.idiag_states = ~0U;
    // The peer's socket: its source is the peer, its destination us.
    query.request.id.idiag_sport = peer.port;
    diag_words(peer, query.request.sdiag_family, query.request.id.idiag_src);
    query.request.id.idiag_dport = ours.port;
    diag_words(ours, query.request.sdiag_family, query.request.id.idiag_dst);
    query.request.id.idiag_if = device;
    query.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    query.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(diag, &query, sizeof query, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(sizeof query))
        return kNotThePeer;
    alignas(nlmsghdr) char answer[1024];
    const ssize_t got = recv(diag, answer, sizeof answer, 0);
    const auto* reply = reinterpret_cast<const nlmsghdr*>(answer);
    if (got < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(inet_diag_msg))) ||
        !NLMSG_OK(reply, static_cast<unsigned>(got)) || reply->nlmsg_type != SOCK_DIAG_BY_FAMILY)
        return kNotThePeer;
    return peer_uid_in_reply(query.request, *static_cast<const inet_diag_msg*>(NLMSG_DATA(reply)));
}

// The uid that opened the peer's end of a connection when that end is a
// socket on this host, whatever address it came from (as `ss` names it).
// Asked on lo's index: asked on none, the kernel finds no socket tied to a
// device, and any user may tie one to lo (SO_BINDTODEVICE) to go unnamed; a
// socket tied to no device is found by it too. Else on the index of the
// interface holding our address (for a link-local one, the interface it
// was reached on: several may hold the same fe80:: address): a socket tied
// to it reaches that address.
long peer_socket_uid(const Endpoint& ours, unsigned our_scope, const Endpoint& peer) {
    static const unsigned loopback_index = if_nametoindex("lo");
    keyauth::UniqueFd diag(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!diag.valid())
        return kNotThePeer;
    if (loopback_index != 0)
        if (const long uid = ask_for_peer_socket(diag.get(), ours, peer, loopback_index);
            uid != kNotThePeer)
            return uid;
    const unsigned device = our_scope != 0 ? our_scope : device_holding(ours.address);
    if (device == 0 || device == loopback_index)
        return kNotThePeer;
    return ask_for_peer_socket(diag.get(), ours, peer, device);
}

}  // namespace

long peer_uid_in_reply(const inet_diag_req_v2& asked, const inet_diag_msg& reply) {
    // The kernel's exact lookup falls back to a listener on the peer's
    // address and port (one on 0.0.0.0:2024, root's, for any remote peer
    // from port 2024): only the very socket asked for is the peer's, in a
    // state a just-accepted peer's end can be in (it may have closed its
    // end already; we have not).
    constexpr unsigned kJustConnected =
        1U << TCP_ESTABLISHED | 1U << TCP_FIN_WAIT1 | 1U << TCP_FIN_WAIT2;
    if (reply.idiag_state >= 32 || (kJustConnected & 1U << reply.idiag_state) == 0)
        return kNotThePeer;
    const inet_diag_sockid& wanted = asked.id;
    const inet_diag_sockid& found = reply.id;
    if (!(endpoint_of(reply.idiag_family, found.idiag_src, found.idiag_sport) ==
          endpoint_of(asked.sdiag_family, wanted.idiag_src, wanted.idiag_sport)) ||
        !(endpoint_of(reply.idiag_family, found.idiag_dst, found.idiag_dport) ==
          endpoint_of(asked.sdiag_family, wanted.idiag_dst, wanted.idiag_dport)))
        return kNotThePeer;
    return reply.idiag_inode == 0 ? kPeerGone : static_cast<long>(reply.idiag_uid);
}

std::string connection_holder(int fd, const std::string& address) {
    sockaddr_storage ours{};
    sockaddr_storage peer{};
    socklen_t ours_size = sizeof ours;
    socklen_t peer_size = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ours), &ours_size) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0 ||
        (peer.ss_family != AF_INET && peer.ss_family != AF_INET6))
        return address;
    const Endpoint peer_end = endpoint_of(reinterpret_cast<const sockaddr&>(peer));
    const auto& ours6 = reinterpret_cast<const sockaddr_in6&>(ours);
    const unsigned our_scope = ours.ss_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&ours6.sin6_addr)
                                   ? ours6.sin6_scope_id
                                   : 0;
    const long uid =
        peer_socket_uid(endpoint_of(reinterpret_cast<const sockaddr&>(ours)), our_scope, peer_end);
    // A peer gone holds nothing: its own holder, no one's share.
    if (uid == kPeerGone)
        return "a closed peer";
    if (uid >= 0)
        return "uid " + std::to_string(uid);
    // A remote peer, or one gone unnamed: its address, but never a loopback
    // one (a user picks any of 127/8 for each connection).
    return is_loopback(peer_end) ? "an unnamed loopback peer" : address;
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
