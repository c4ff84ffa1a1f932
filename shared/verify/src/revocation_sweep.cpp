#include "keyauth/revocation_sweep.hpp"

#include <algorithm>

namespace keyauth {

void RevocationSweep::admitted(std::int64_t not_after) noexcept {
    earliest_not_after_ = std::min(earliest_not_after_, not_after);
}

bool RevocationSweep::due(std::uint64_t generation, std::int64_t now) const noexcept {
    // An unreadable registry may show one generation throughout: its grace
    // running out must bring the sweep that cuts.
    return generation != swept_generation_ || now > earliest_not_after_ ||
           (error_since_ != 0 && now - error_since_ > grace_);
}

void RevocationSweep::begin(std::uint64_t generation) noexcept {
    generation_ = generation;
    error_since_before_ = error_since_;
    earliest_ = kNever;
    answered_ = false;
    kept_through_error_ = 0;
}

SweepRuling RevocationSweep::ruling(Verdict verdict, std::int64_t not_after,
                                    std::int64_t now) const noexcept {
    if (verdict == Verdict::accepted)
        return {SessionFate::keep, verdict};
    if (verdict != Verdict::registry_error)
        return {SessionFate::cut, verdict};
    // Nothing read now: what the registry said last still holds, validity
    // included (recheck calls a client expired from not_after + 1 on).
    if (now > not_after)
        return {SessionFate::cut, Verdict::expired};
    // "More than the grace": a grace of N s keeps sessions at least N s
    // whatever second the error began in.
    const std::int64_t since = error_since_ != 0 ? error_since_ : now;
    if (grace_ == 0 || now - since > grace_)
        return {SessionFate::cut, Verdict::registry_error};
    return {SessionFate::keep_through_error, Verdict::accepted};
}

SweepRuling RevocationSweep::judge(Verdict verdict, std::int64_t not_after,
                                   std::int64_t now) noexcept {
    const SweepRuling decided = ruling(verdict, not_after, now);
    if (verdict == Verdict::accepted) {
        answered_ = true;
        earliest_ = std::min(earliest_, not_after);
    } else if (decided.fate == SessionFate::keep_through_error) {
        if (error_since_ == 0)
            error_since_ = now;
        ++kept_through_error_;
        earliest_ = std::min(earliest_, not_after);
    }
    return decided;
}

SweepNews RevocationSweep::end() noexcept {
    swept_generation_ = generation_;
    earliest_not_after_ = earliest_;
    // Nobody kept through an error: the next error starts a grace of its own.
    if (kept_through_error_ == 0)
        error_since_ = 0;
    if (error_since_before_ == 0 && error_since_ != 0)
        return SweepNews::registry_unreadable;
    if (error_since_before_ != 0 && error_since_ == 0 && answered_)
        return SweepNews::registry_readable;
    return SweepNews::none;
}

}  // namespace keyauth
