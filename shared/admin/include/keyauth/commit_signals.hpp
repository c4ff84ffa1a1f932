// A change is never cut in half by Ctrl-C: the signals an operator sends
// (INT, TERM, HUP, QUIT, TSTP) are held while a commit is made durable and
// published, and delivered (to the program's handler, or by default) once
// it is. committed_a_change() lets a handler say which happened.
#pragma once

#include <string_view>

namespace keyauth {

class HeldSignals {
  public:
    HeldSignals();
    ~HeldSignals();  // a signal that arrived meanwhile is delivered now
    HeldSignals(const HeldSignals&) = delete;
    HeldSignals& operator=(const HeldSignals&) = delete;

  private:
    bool held_ = false;
    unsigned long saved_[16] = {};  // the caller's signal mask (sigset_t)
};

// Has this process committed a change? Async-signal-safe: for a handler that
// tells the operator what an interruption left behind.
bool committed_a_change();
void note_committed_change();

// Test hook: KEYAUTH_TEST_STOP_AT=<name> stops the process (SIGSTOP) when
// it reaches that point of a commit, for tests that kill or freeze a writer
// there. Costs a pointer compare otherwise.
void stop_point(std::string_view name);

}  // namespace keyauth
