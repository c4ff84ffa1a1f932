#include "keyauth/commit_signals.hpp"

#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>

namespace keyauth {
namespace {

static_assert(sizeof(sigset_t) <= sizeof(unsigned long) * 16, "room for a sigset_t");

constexpr int kHeld[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};

std::atomic<bool> committed{false};

sigset_t held_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : kHeld)
        sigaddset(&set, signal);
    return set;
}

}  // namespace

HeldSignals::HeldSignals() {
    const sigset_t set = held_set();
    sigset_t saved;
    held_ = pthread_sigmask(SIG_BLOCK, &set, &saved) == 0;
    std::memcpy(saved_, &saved, sizeof saved);
}

HeldSignals::~HeldSignals() {
    if (!held_)
        return;
    sigset_t saved;
    std::memcpy(&saved, saved_, sizeof saved);
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}

bool committed_a_change() {
    return committed.load(std::memory_order_relaxed);
}

void note_committed_change() {
    committed.store(true, std::memory_order_relaxed);
}

void stop_point(std::string_view name) {
    const char* const wanted = getenv("KEYAUTH_TEST_STOP_AT");
    if (wanted == nullptr || name != wanted)
        return;
    raise(SIGSTOP);
}

}  // namespace keyauth
