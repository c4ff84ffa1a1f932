// The revocation sweep's rule, one home for both servers: when the sessions
// a server holds open must be rechecked, and what each recheck's verdict
// means for its session. A registry the server cannot read is not a
// revocation: sessions are kept through it for a bounded time (the grace),
// and cut only on a positive answer (deleted, re-issued, suspended, expired)
// or once the registry has stayed unreadable for longer than the grace.
// New admissions fail closed meanwhile; that is the credential policy's job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "keyauth/authenticator.hpp"

namespace keyauth {

// plugin_opt_registry_error_grace and keyauth_registry_error_grace.
inline constexpr std::int64_t kDefaultRegistryErrorGrace = 60;

enum class SessionFate : std::uint8_t {
    keep,                // the registry still admits it
    keep_through_error,  // the registry could not be read: kept, for now
    cut,
};

struct SweepRuling {
    SessionFate fate = SessionFate::keep;
    // Why it is cut: the recheck's verdict, or expired when the validity
    // known from the last answer has ended, or registry_error once the
    // registry has stayed unreadable for longer than the grace.
    Verdict why = Verdict::accepted;
};

// What a sweep has to tell the operator, once (never once per session).
enum class SweepNews : std::uint8_t {
    none,
    registry_unreadable,  // first error: sessions kept, for at most the grace
    registry_readable,    // it answered again: the sessions kept are rechecked
};

// One per registry a server process reads; one sweep at a time:
//
//   if (sweep.due(store.generation(), now)) {
//       sweep.begin(generation);
//       for each session: ruling = sweep.judge(recheck(...).verdict, not_after, now)
//       news = sweep.end();
//   }
class RevocationSweep {
  public:
    // grace: seconds a session outlives an unreadable registry (0: none).
    explicit RevocationSweep(std::int64_t error_grace = kDefaultRegistryErrorGrace) noexcept
        : grace_(error_grace < 0 ? 0 : error_grace) {}

    std::int64_t error_grace() const noexcept { return grace_; }

    // A session was admitted (the registry answered) with this validity.
    void admitted(std::int64_t not_after) noexcept;

    // Must the sessions be rechecked now? Yes when the registry's generation
    // (read before the rechecks) moved since the last sweep, a validity has
    // ended, or the grace of an unreadable registry has run out.
    bool due(std::uint64_t generation, std::int64_t now) const noexcept;

    void begin(std::uint64_t generation) noexcept;
    // The fate of one session, from the verdict of its recheck and the
    // validity known from the registry's last answer.
    SweepRuling judge(Verdict verdict, std::int64_t not_after, std::int64_t now) noexcept;
    SweepNews end() noexcept;

    // The ruling a sweep would give now, for a session checked outside one
    // (a broker reload re-authenticating it). Starts no grace: the next
    // sweep, which the same error brings, does.
    SweepRuling ruling(Verdict verdict, std::int64_t not_after, std::int64_t now) const noexcept;

    // Sessions the last sweep kept only because the registry was unreadable.
    std::size_t kept_through_error() const noexcept { return kept_through_error_; }
    // When the registry was first found unreadable (0: it answers).
    std::int64_t unreadable_since() const noexcept { return error_since_; }

  private:
    static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

    std::int64_t grace_;
    std::uint64_t swept_generation_ = 0;
    std::int64_t earliest_not_after_ = kNever;
    std::int64_t error_since_ = 0;
    // the sweep in progress
    std::uint64_t generation_ = 0;
    std::int64_t error_since_before_ = 0;
    std::int64_t earliest_ = kNever;
    bool answered_ = false;
    std::size_t kept_through_error_ = 0;
};

}  // namespace keyauth
