// keytool serve's guard against slow clients, without a server: which
// connection it cuts, and when (console_connections.hpp).
#include "console/console_connections.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "unit_test.hpp"

using keytool::console::connection_holder;
using keytool::console::kNotThePeer;
using keytool::console::kPeerGone;
using keytool::console::peer_uid_in_reply;
using keytool::console::SlowClientGuard;

namespace {

// Connections are named by address-like keys; their descriptors are 100 + n.
struct Guarded {
    std::vector<int> cut;
    SlowClientGuard guard;
    int keys[16] = {};

    // Requests due in 10 s, answers in 30 s, a reader slow after 2 s.
    Guarded(std::size_t per_holder, std::size_t total)
        : guard({10'000, 30'000, 2'000, per_holder, total}, [this](int fd) { cut.push_back(fd); }) {
    }
    void open(int n, const char* address, std::int64_t at) {
        guard.opened(&keys[n], 100 + n, address, at);
    }
};

void a_request_not_whole_by_its_deadline_is_cut(void**) {
    Guarded g(16, 256);
    g.open(1, "127.0.0.1", 0);
    g.guard.cut_late(10'000);
    assert_true(g.cut.empty());
    g.guard.cut_late(10'001);
    assert_true((g.cut == std::vector<int>{101}));
    g.guard.cut_late(20'000);  // once
    assert_int_equal(g.cut.size(), 1);
}

void a_request_received_has_no_deadline_until_answered(void**) {
    Guarded g(16, 256);
    g.open(1, "127.0.0.1", 0);
    g.guard.received(&g.keys[1], 5'000);
    g.guard.cut_late(30'000);
    assert_true(g.cut.empty());
    // Kept alive for another request: its deadline runs from the answer.
    g.guard.answered(&g.keys[1], 60'000);
    g.guard.cut_late(70'000);
    assert_true(g.cut.empty());
    g.guard.cut_late(70'001);
    assert_true((g.cut == std::vector<int>{101}));
}

void a_closed_connection_is_never_cut(void**) {
    Guarded g(16, 256);
    g.open(1, "127.0.0.1", 0);
    g.guard.closed(&g.keys[1]);
    g.guard.cut_late(60'000);
    assert_true(g.cut.empty());
}

void a_full_address_cuts_its_oldest_slow_connection(void**) {
    Guarded g(3, 256);
    g.open(1, "127.0.0.1", 0);
    g.open(2, "127.0.0.1", 1);
    g.open(3, "127.0.0.1", 2);
    g.open(9, "127.0.0.2", 0);  // another address's: not counted
    assert_true(g.cut.empty());
    g.guard.received(&g.keys[1], 2);  // being answered, not slowly: kept
    g.open(4, "127.0.0.1", 3);        // the operator's, after three slow ones
    assert_true((g.cut == std::vector<int>{102}));
    g.open(5, "127.0.0.1", 4);  // a cut one holds nothing
    assert_true((g.cut == std::vector<int>{102, 103}));
}

void a_newcomer_is_refused_when_every_other_is_answered(void**) {
    Guarded g(2, 256);
    g.open(1, "127.0.0.1", 0);
    g.open(2, "127.0.0.1", 1);
    g.guard.received(&g.keys[1], 1);
    g.guard.received(&g.keys[2], 1);
    g.open(3, "127.0.0.1", 2);
    assert_true((g.cut == std::vector<int>{103}));
}

void a_full_server_cuts_the_oldest_slow_one_of_the_busiest_address(void**) {
    Guarded g(16, 4);
    g.open(1, "127.0.0.9", 0);  // the oldest, but alone at its address
    g.open(2, "127.0.0.2", 5);
    g.open(3, "127.0.0.2", 6);
    g.open(4, "127.0.0.3", 7);
    assert_true(g.cut.empty());
    g.open(5, "127.0.0.1", 8);
    assert_true((g.cut == std::vector<int>{102}));
    g.open(6, "127.0.0.1", 9);  // now 127.0.0.1 holds the most: its oldest
    assert_true((g.cut == std::vector<int>{102, 105}));
}

// Review 3, M-1: a client that never reads its answer held its connection
// for as long as it liked.
void an_answer_not_sent_by_its_deadline_is_cut(void**) {
    Guarded g(16, 256);
    g.open(1, "uid 65534", 0);
    g.guard.received(&g.keys[1], 1'000);
    g.guard.cut_late(31'000);
    assert_true(g.cut.empty());
    g.guard.cut_late(31'001);
    assert_true((g.cut == std::vector<int>{101}));
}

// Review 3, M-1: slow readers filling a holder's share kept every newcomer
// of that holder (the operator's request) out.
void a_full_holder_cuts_its_oldest_slow_reader(void**) {
    Guarded g(2, 256);
    g.open(1, "127.0.0.1", 0);
    g.open(2, "127.0.0.1", 1);
    g.guard.received(&g.keys[2], 1);
    g.guard.received(&g.keys[1], 2);
    g.open(3, "127.0.0.1", 2'002);  // 2 answered for over 2 s, 1 not yet
    assert_true((g.cut == std::vector<int>{102}));
    // A request still coming goes before a slow reader: a slow reader has
    // had its request answered, a trickler nothing yet.
    g.open(4, "127.0.0.1", 5'000);
    assert_true((g.cut == std::vector<int>{102, 103}));
    g.guard.received(&g.keys[4], 5'000);  // answered promptly: kept
    g.open(5, "127.0.0.1", 5'001);
    assert_true((g.cut == std::vector<int>{102, 103, 101}));
}

// Two connections over TCP, to `to` (127.0.0.1 unless given), from a socket
// tied to `device` if given: the server's end and the client's.
struct TcpPair {
    int listener = -1;
    int client = -1;
    int server = -1;
    explicit TcpPair(in_addr_t to = htonl(INADDR_LOOPBACK), const char* device = nullptr) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = to;
        listen_on(reinterpret_cast<sockaddr*>(&address), sizeof address);
        connect_to(reinterpret_cast<sockaddr*>(&address), sizeof address, device);
    }
    // An IPv6 listener on [::] reached at 127.0.0.1: its peer is v4-mapped.
    static TcpPair v4_to_v6_listener() {
        TcpPair pair(nullptr);
        sockaddr_in6 any{};
        any.sin6_family = AF_INET6;
        any.sin6_addr = in6addr_any;
        pair.listen_on(reinterpret_cast<sockaddr*>(&any), sizeof any);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = any.sin6_port;
        pair.connect_to(reinterpret_cast<sockaddr*>(&address), sizeof address, nullptr);
        return pair;
    }
    TcpPair(TcpPair&& other) noexcept
        : listener(std::exchange(other.listener, -1)),
          client(std::exchange(other.client, -1)),
          server(std::exchange(other.server, -1)) {}
    ~TcpPair() {
        for (int fd : {server, client, listener})
            if (fd >= 0)
                close(fd);
    }

  private:
    explicit TcpPair(std::nullptr_t) {}
    // Binds to `address` with a port of the kernel's, written back into it.
    void listen_on(sockaddr* address, socklen_t size) {
        listener = socket(address->sa_family, SOCK_STREAM, 0);
        assert_int_equal(bind(listener, address, size), 0);
        assert_int_equal(listen(listener, 1), 0);
        assert_int_equal(getsockname(listener, address, &size), 0);
    }
    void connect_to(const sockaddr* address, socklen_t size, const char* device) {
        client = socket(AF_INET, SOCK_STREAM, 0);
        if (device != nullptr)
            assert_int_equal(setsockopt(client, SOL_SOCKET, SO_BINDTODEVICE, device,
                                        static_cast<socklen_t>(std::strlen(device))),
                             0);
        assert_int_equal(connect(client, address, size), 0);
        server = accept(listener, nullptr, nullptr);
        assert_true(server >= 0);
    }
};

// Review 3, M-2: every local user shares 127.0.0.1 with the operator, so
// a loopback connection is counted against the user that opened it.
void a_loopback_connection_is_held_by_its_user(void**) {
    TcpPair pair;
    assert_string_equal(connection_holder(pair.server, "127.0.0.1").c_str(),
                        ("uid " + std::to_string(geteuid())).c_str());
}

// A peer closed already is orphaned, which the kernel reports as root's:
// counted apart, never in root's (the operator's) share.
void a_loopback_peer_gone_holds_no_users_share(void**) {
    TcpPair pair;
    close(pair.client);
    pair.client = -1;
    assert_string_equal(connection_holder(pair.server, "127.0.0.1").c_str(), "a closed peer");
}

// Review 6, Low: a local user's connection through one of the host's own
// addresses was counted by that address, the operator's too. Tied to that
// address's interface, the kernel finds the socket only when asked on it.
void a_connection_through_the_hosts_own_address_is_held_by_its_user(void**) {
    ifaddrs* all = nullptr;
    assert_int_equal(getifaddrs(&all), 0);
    std::string device;
    in_addr_t address = 0;
    for (const ifaddrs* each = all; each != nullptr && device.empty(); each = each->ifa_next)
        if (each->ifa_addr != nullptr && each->ifa_addr->sa_family == AF_INET &&
            (each->ifa_flags & IFF_UP) != 0 && (each->ifa_flags & IFF_LOOPBACK) == 0) {
            device = each->ifa_name;
            address = reinterpret_cast<const sockaddr_in*>(each->ifa_addr)->sin_addr.s_addr;
        }
    freeifaddrs(all);
    if (device.empty())
        skip();  // no address but loopback ones here
    const std::string user = "uid " + std::to_string(geteuid());
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &address, text, sizeof text);
    TcpPair through_address(address);
    assert_string_equal(connection_holder(through_address.server, text).c_str(), user.c_str());
    TcpPair tied_to_its_device(address, device.c_str());
    assert_string_equal(connection_holder(tied_to_its_device.server, text).c_str(), user.c_str());
}

// Asked about as IPv6 (v4-mapped), answered about an IPv4 socket: the same.
void an_ipv4_peer_of_an_ipv6_listener_is_held_by_its_user(void**) {
    TcpPair pair = TcpPair::v4_to_v6_listener();
    assert_string_equal(connection_holder(pair.server, "::ffff:127.0.0.1").c_str(),
                        ("uid " + std::to_string(geteuid())).c_str());
}

// The peer's socket asked for: 203.0.113.5:2024 to 192.0.2.2:8443.
inet_diag_req_v2 asked_for_peer() {
    inet_diag_req_v2 asked{};
    asked.sdiag_family = AF_INET;
    asked.sdiag_protocol = IPPROTO_TCP;
    asked.id.idiag_sport = htons(2024);
    asked.id.idiag_dport = htons(8443);
    inet_pton(AF_INET, "203.0.113.5", &asked.id.idiag_src[0]);
    inet_pton(AF_INET, "192.0.2.2", &asked.id.idiag_dst[0]);
    return asked;
}

// The kernel's answer: that very socket, nobody's, connected.
inet_diag_msg the_peers_socket() {
    inet_diag_msg reply{};
    reply.idiag_family = AF_INET;
    reply.idiag_state = TCP_ESTABLISHED;
    reply.id = asked_for_peer().id;
    reply.idiag_uid = 65534;
    reply.idiag_inode = 4242;
    return reply;
}

void the_very_socket_asked_for_names_its_user(void**) {
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), the_peers_socket()), 65534);
    inet_diag_msg closed_its_end = the_peers_socket();
    closed_its_end.idiag_state = TCP_FIN_WAIT2;
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), closed_its_end), 65534);
    inet_diag_msg orphan = closed_its_end;
    orphan.idiag_inode = 0;
    orphan.idiag_uid = 0;
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), orphan), kPeerGone);
    // Asked as IPv6 (an IPv6 listener's v4-mapped peer), found as IPv4.
    inet_diag_req_v2 mapped = asked_for_peer();
    mapped.sdiag_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:203.0.113.5", mapped.id.idiag_src);
    inet_pton(AF_INET6, "::ffff:192.0.2.2", mapped.id.idiag_dst);
    assert_int_equal(peer_uid_in_reply(mapped, the_peers_socket()), 65534);
}

// Review 6: the kernel's exact lookup falls back to a listener on the
// peer's port: a remote client from port 2024 was named root, whose
// 0.0.0.0:2024 it found (N2: a LISTEN answer was taken).
void a_listener_the_lookup_fell_back_to_names_no_one(void**) {
    inet_diag_msg listener{};
    listener.idiag_family = AF_INET;
    listener.idiag_state = TCP_LISTEN;
    listener.id.idiag_sport = htons(2024);
    listener.idiag_uid = 0;
    listener.idiag_inode = 77;
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), listener), kNotThePeer);
    inet_diag_msg listening_on_the_very_ends = the_peers_socket();
    listening_on_the_very_ends.idiag_state = TCP_LISTEN;
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), listening_on_the_very_ends), kNotThePeer);
    for (const int state : {TCP_SYN_SENT, TCP_TIME_WAIT, TCP_CLOSE, TCP_CLOSE_WAIT}) {
        inet_diag_msg other_state = the_peers_socket();
        other_state.idiag_state = static_cast<std::uint8_t>(state);
        assert_int_equal(peer_uid_in_reply(asked_for_peer(), other_state), kNotThePeer);
    }
}

void a_socket_with_other_ends_names_no_one(void**) {
    inet_diag_msg other_source_port = the_peers_socket();
    other_source_port.id.idiag_sport = htons(2025);
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), other_source_port), kNotThePeer);
    inet_diag_msg other_destination_port = the_peers_socket();
    other_destination_port.id.idiag_dport = htons(8444);
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), other_destination_port), kNotThePeer);
    inet_diag_msg other_source = the_peers_socket();
    inet_pton(AF_INET, "203.0.113.6", &other_source.id.idiag_src[0]);
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), other_source), kNotThePeer);
    inet_diag_msg any_destination = the_peers_socket();
    any_destination.id.idiag_dst[0] = 0;
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), any_destination), kNotThePeer);
    inet_diag_msg ipv6 = the_peers_socket();
    ipv6.idiag_family = AF_INET6;  // the same words read as an IPv6 address
    assert_int_equal(peer_uid_in_reply(asked_for_peer(), ipv6), kNotThePeer);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_request_not_whole_by_its_deadline_is_cut),
        cmocka_unit_test(a_request_received_has_no_deadline_until_answered),
        cmocka_unit_test(a_closed_connection_is_never_cut),
        cmocka_unit_test(a_full_address_cuts_its_oldest_slow_connection),
        cmocka_unit_test(a_newcomer_is_refused_when_every_other_is_answered),
        cmocka_unit_test(a_full_server_cuts_the_oldest_slow_one_of_the_busiest_address),
        cmocka_unit_test(an_answer_not_sent_by_its_deadline_is_cut),
        cmocka_unit_test(a_full_holder_cuts_its_oldest_slow_reader),
        cmocka_unit_test(a_loopback_connection_is_held_by_its_user),
        cmocka_unit_test(a_loopback_peer_gone_holds_no_users_share),
        cmocka_unit_test(a_connection_through_the_hosts_own_address_is_held_by_its_user),
        cmocka_unit_test(an_ipv4_peer_of_an_ipv6_listener_is_held_by_its_user),
        cmocka_unit_test(the_very_socket_asked_for_names_its_user),
        cmocka_unit_test(a_listener_the_lookup_fell_back_to_names_no_one),
        cmocka_unit_test(a_socket_with_other_ends_names_no_one),
    };
    return run_group(tests);
}
