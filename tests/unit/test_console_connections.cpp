// keytool serve's guard against slow clients, without a server: which
// connection it cuts, and when (console_connections.hpp).
#include "console/console_connections.hpp"

#include <vector>

#include "unit_test.hpp"

using keytool::console::SlowClientGuard;

namespace {

// Connections are named by address-like keys; their descriptors are 100 + n.
struct Guarded {
    std::vector<int> cut;
    SlowClientGuard guard;
    int keys[16] = {};

    Guarded(std::size_t per_address, std::size_t total)
        : guard({10'000, per_address, total}, [this](int fd) { cut.push_back(fd); }) {}
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
    g.guard.received(&g.keys[1]);
    g.guard.cut_late(60'000);
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
    g.guard.received(&g.keys[1]);  // being answered: kept
    g.open(4, "127.0.0.1", 3);     // the operator's, after three slow ones
    assert_true((g.cut == std::vector<int>{102}));
    g.open(5, "127.0.0.1", 4);  // a cut one holds nothing
    assert_true((g.cut == std::vector<int>{102, 103}));
}

void a_newcomer_is_refused_when_every_other_is_answered(void**) {
    Guarded g(2, 256);
    g.open(1, "127.0.0.1", 0);
    g.open(2, "127.0.0.1", 1);
    g.guard.received(&g.keys[1]);
    g.guard.received(&g.keys[2]);
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

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_request_not_whole_by_its_deadline_is_cut),
        cmocka_unit_test(a_request_received_has_no_deadline_until_answered),
        cmocka_unit_test(a_closed_connection_is_never_cut),
        cmocka_unit_test(a_full_address_cuts_its_oldest_slow_connection),
        cmocka_unit_test(a_newcomer_is_refused_when_every_other_is_answered),
        cmocka_unit_test(a_full_server_cuts_the_oldest_slow_one_of_the_busiest_address),
    };
    return run_group(tests);
}
