// A reader opening a registry while keyauth-sync exchanges the directory
// under it: the exchange lands between its opening of commit.seq and of
// lookup.idx, so the two files are not one registry's. Forced exactly: this
// binary's open() (it comes before libc's for the library linked in)
// exchanges the directory with another one right after commit.seq is opened.
#include "registry_test.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

using keyauth::RegistryReader;

namespace {

struct ExchangeWhileOpening {
    std::string live;
    std::string other;
    int left = 0;
    int made = 0;
    bool sequence_just_opened = false;
} exchange;

bool ends_with(const char* text, const char* tail) {
    const std::size_t n = std::strlen(text);
    const std::size_t t = std::strlen(tail);
    return n >= t && std::strcmp(text + n - t, tail) == 0;
}

int open_exchanging(const char* path, int flags, mode_t mode) {
    if (exchange.left > 0 && exchange.sequence_just_opened && ends_with(path, "/lookup.idx")) {
        --exchange.left;
        ++exchange.made;
        if (renameat2(AT_FDCWD, exchange.other.c_str(), AT_FDCWD, exchange.live.c_str(),
                      RENAME_EXCHANGE) != 0) {
            std::perror("renameat2");
            std::abort();
        }
    }
    exchange.sequence_just_opened = ends_with(path, "/commit.seq");
    return static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}

mode_t mode_argument(int flags, va_list args) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(args, mode_t) : 0;
}

}  // namespace

extern "C" int open(const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const mode_t mode = mode_argument(flags, args);
    va_end(args);
    return open_exchanging(path, flags, mode);
}

extern "C" int open64(const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const mode_t mode = mode_argument(flags, args);
    va_end(args);
    return open_exchanging(path, flags, mode);
}

// What _FORTIFY_SOURCE calls for an open() without a mode.
extern "C" int __open_2(const char* path, int flags) {
    return open_exchanging(path, flags, 0);
}

namespace {

void exchange_on_next_openings(const TempRegistry& live, const TempRegistry& other, int times) {
    exchange.live = live.path();
    exchange.other = other.path();
    exchange.left = times;
    exchange.made = 0;
}

// The registry served ("old", kFirst) and the one a swap puts in its place
// ("new", kSecond). A fixture, not locals: a failed assertion longjmps out
// of the test, past any destructor, and the teardown still removes both.
struct ServedAndReplacement {
    TempRegistry live;
    TempRegistry other;
    bool ready() const {
        return write_registry(live.path(),
                              [](RegistryWriter& w) { return put_client(w, "old", kFirst); }) &&
               write_registry(other.path(),
                              [](RegistryWriter& w) { return put_client(w, "new", kSecond); });
    }
};

// The first opening (a fresh nginx worker's): the registry swapped in is
// opened at once, not refused for the second until the next attempt.
void a_swap_while_opening_is_followed_at_once(void** state) {
    const ServedAndReplacement& registries = fixture_of<ServedAndReplacement>(state);
    const TempRegistry& live = registries.live;
    exchange_on_next_openings(live, registries.other, 1);
    auto opened = RegistryReader::open(live.path());
    assert_int_equal(exchange.made, 1);
    assert_ok(opened);
    ClientCredentials found;
    assert_ok((*opened)->find("new", found));
    assert_same_credentials(found, kSecond);
    assert_code((*opened)->find("old", found), Errc::unknown_client);
}

// A running server's reopen after a replacement: its lookups are answered,
// not refused until the next replacement check 200 ms on.
void a_swap_while_reopening_leaves_no_lookup_refused(void** state) {
    const ServedAndReplacement& registries = fixture_of<ServedAndReplacement>(state);
    const TempRegistry& live = registries.live;
    const TempRegistry& other = registries.other;
    auto reader = live.open_reader();
    assert_non_null(reader.get());
    ClientCredentials found;
    assert_ok(reader->find("old", found));
    // Replaced ("new" at the path), then exchanged back while it reopens.
    assert_int_equal(
        renameat2(AT_FDCWD, other.path().c_str(), AT_FDCWD, live.path().c_str(), RENAME_EXCHANGE),
        0);
    exchange_on_next_openings(live, other, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // the check is due
    assert_ok(reader->find("old", found));
    assert_int_equal(exchange.made, 1);
    assert_same_credentials(found, kFirst);
}

// Bounded: a directory that changes at every opening is refused after a
// few, and opened once it holds still.
void a_registry_changing_at_every_opening_is_refused_after_three(void**) {
    TempRegistry live;
    TempRegistry other;
    exchange_on_next_openings(live, other, 100);
    auto opened = RegistryReader::open(live.path());
    assert_false(opened.ok());
    assert_non_null(std::strstr(opened.error().message.c_str(), "changed while opening"));
    assert_int_equal(exchange.made, 3);
    exchange.left = 0;
    assert_non_null(live.open_reader().get());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        unit_test_with(ServedAndReplacement, a_swap_while_opening_is_followed_at_once),
        unit_test_with(ServedAndReplacement, a_swap_while_reopening_leaves_no_lookup_refused),
        cmocka_unit_test(a_registry_changing_at_every_opening_is_refused_after_three),
    };
    return run_group(tests);
}
