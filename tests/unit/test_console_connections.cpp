// keytool serve's guard against slow clients, without a server: which
// connection it cuts, and when (console_connections.hpp).
#include "console/console_connections.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "unit_test.hpp"

using keytool::console::connection_holder;
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

// Two connections over loopback TCP: the server's end and the client's.
struct LoopbackPair {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    int server = -1;
    LoopbackPair() {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t size = sizeof address;
        assert_int_equal(bind(listener, reinterpret_cast<sockaddr*>(&address), size), 0);
        assert_int_equal(listen(listener, 1), 0);
        assert_int_equal(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size), 0);
        assert_int_equal(connect(client, reinterpret_cast<sockaddr*>(&address), size), 0);
        server = accept(listener, nullptr, nullptr);
        assert_true(server >= 0);
    }
    ~LoopbackPair() {
        close(server);
        if (client >= 0)
            close(client);
        close(listener);
    }
};

// Review 3, M-2: every local user shares 127.0.0.1 with the operator, so
// a loopback connection is counted against the user that opened it.
void a_loopback_connection_is_held_by_its_user(void**) {
    LoopbackPair pair;
    assert_string_equal(connection_holder(pair.server, "127.0.0.1").c_str(),
                        ("uid " + std::to_string(geteuid())).c_str());
}

// A peer closed already is orphaned, which the kernel reports as root's:
// counted apart, never in root's (the operator's) share.
void a_loopback_peer_gone_holds_no_users_share(void**) {
    LoopbackPair pair;
    close(pair.client);
    pair.client = -1;
    assert_string_equal(connection_holder(pair.server, "127.0.0.1").c_str(), "a closed peer");
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
    };
    return run_group(tests);
}
