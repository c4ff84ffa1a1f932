// The revocation sweep's rule both servers follow: when a sweep is due, and
// a registry that cannot be read kept as no revocation, for a bounded time.
#include "unit_test.hpp"

#include <cstring>

#include "keyauth/keyauth.h"
#include "keyauth/revocation_sweep.hpp"

using keyauth::RevocationSweep;
using keyauth::SessionFate;
using keyauth::SweepNews;
using keyauth::Verdict;

namespace {

constexpr std::uint64_t kUnreadable = ~std::uint64_t{0};
constexpr std::int64_t kStart = 1'700'000'000;
constexpr std::int64_t kValidUntil = kStart + 3600;

// A sweep that has seen generation 7 once, every session accepted.
RevocationSweep swept_once(std::int64_t grace = 60) {
    RevocationSweep sweep(grace);
    sweep.admitted(kValidUntil);
    sweep.begin(7);
    assert_int_equal(static_cast<int>(sweep.judge(Verdict::accepted, kValidUntil, kStart).fate),
                     static_cast<int>(SessionFate::keep));
    assert_int_equal(static_cast<int>(sweep.end()), static_cast<int>(SweepNews::none));
    return sweep;
}

void not_due_while_nothing_changes(void**) {
    RevocationSweep sweep = swept_once();
    assert_false(sweep.due(7, kStart + 10));
    assert_false(sweep.due(7, kValidUntil));
}

void due_when_the_generation_moves(void**) {
    RevocationSweep sweep = swept_once();
    assert_true(sweep.due(8, kStart + 1));
    assert_true(sweep.due(kUnreadable, kStart + 1));
}

void due_when_a_validity_ends(void**) {
    RevocationSweep sweep = swept_once();
    assert_true(sweep.due(7, kValidUntil + 1));
}

void due_for_a_session_admitted_since_with_a_shorter_validity(void**) {
    RevocationSweep sweep = swept_once();
    sweep.admitted(kStart + 5);
    assert_false(sweep.due(7, kStart + 5));
    assert_true(sweep.due(7, kStart + 6));
}

void positive_answers_cut(void**) {
    for (Verdict verdict : {Verdict::unknown_client, Verdict::mismatch, Verdict::expired,
                            Verdict::not_yet_valid, Verdict::malformed}) {
        RevocationSweep sweep = swept_once();
        sweep.begin(8);
        const keyauth::SweepRuling ruling = sweep.judge(verdict, kValidUntil, kStart + 1);
        assert_int_equal(static_cast<int>(ruling.fate), static_cast<int>(SessionFate::cut));
        assert_int_equal(static_cast<int>(ruling.why), static_cast<int>(verdict));
        assert_int_equal(static_cast<int>(sweep.end()), static_cast<int>(SweepNews::none));
    }
}

void registry_error_keeps_sessions_and_says_so_once(void**) {
    RevocationSweep sweep = swept_once();
    sweep.begin(kUnreadable);
    for (int i = 0; i < 3; ++i) {
        const keyauth::SweepRuling ruling =
            sweep.judge(Verdict::registry_error, kValidUntil, kStart + 1);
        assert_int_equal(static_cast<int>(ruling.fate),
                         static_cast<int>(SessionFate::keep_through_error));
        assert_int_equal(static_cast<int>(ruling.why), static_cast<int>(Verdict::accepted));
    }
    assert_int_equal(static_cast<int>(sweep.end()),
                     static_cast<int>(SweepNews::registry_unreadable));
    assert_int_equal(sweep.kept_through_error(), 3);
    assert_int_equal(sweep.unreadable_since(), kStart + 1);
    // The same unreadable registry brings no sweep, and no news, until the
    // grace runs out: then the sweep cuts.
    assert_false(sweep.due(kUnreadable, kStart + 30));
    assert_false(sweep.due(kUnreadable, kStart + 61));
    assert_true(sweep.due(kUnreadable, kStart + 62));
    sweep.begin(kUnreadable);
    const keyauth::SweepRuling late =
        sweep.judge(Verdict::registry_error, kValidUntil, kStart + 62);
    assert_int_equal(static_cast<int>(late.fate), static_cast<int>(SessionFate::cut));
    assert_int_equal(static_cast<int>(late.why), static_cast<int>(Verdict::registry_error));
    assert_int_equal(static_cast<int>(sweep.end()), static_cast<int>(SweepNews::none));
    // Nobody left to keep: the next error has a grace of its own.
    assert_int_equal(sweep.unreadable_since(), 0);
}

void a_sweep_within_the_grace_keeps_the_first_error_time(void**) {
    RevocationSweep sweep = swept_once(10);
    sweep.begin(kUnreadable);
    sweep.judge(Verdict::registry_error, kValidUntil, kStart + 1);
    sweep.end();
    // Another session admitted elsewhere changed nothing; a validity ending
    // brings a sweep inside the grace: still kept, the bound unchanged.
    sweep.begin(kUnreadable);
    assert_int_equal(
        static_cast<int>(sweep.judge(Verdict::registry_error, kValidUntil, kStart + 9).fate),
        static_cast<int>(SessionFate::keep_through_error));
    assert_int_equal(static_cast<int>(sweep.end()), static_cast<int>(SweepNews::none));
    assert_int_equal(sweep.unreadable_since(), kStart + 1);
    sweep.begin(kUnreadable);
    assert_int_equal(
        static_cast<int>(sweep.judge(Verdict::registry_error, kValidUntil, kStart + 12).fate),
        static_cast<int>(SessionFate::cut));
}

void readable_again_within_the_grace_keeps_and_says_so(void**) {
    RevocationSweep sweep = swept_once();
    sweep.begin(kUnreadable);
    sweep.judge(Verdict::registry_error, kValidUntil, kStart + 1);
    sweep.end();
    assert_true(sweep.due(9, kStart + 20));
    sweep.begin(9);
    assert_int_equal(
        static_cast<int>(sweep.judge(Verdict::accepted, kValidUntil, kStart + 20).fate),
        static_cast<int>(SessionFate::keep));
    // A client deleted while the registry could not be read: cut now.
    assert_int_equal(
        static_cast<int>(sweep.judge(Verdict::unknown_client, kValidUntil, kStart + 20).fate),
        static_cast<int>(SessionFate::cut));
    assert_int_equal(static_cast<int>(sweep.end()), static_cast<int>(SweepNews::registry_readable));
    assert_int_equal(sweep.unreadable_since(), 0);
    assert_false(sweep.due(9, kStart + 100));
}

void a_validity_that_ended_is_cut_through_an_error(void**) {
    RevocationSweep sweep = swept_once();
    sweep.admitted(kStart + 5);
    assert_true(sweep.due(7, kStart + 6));
    sweep.begin(kUnreadable);
    const keyauth::SweepRuling ruling =
        sweep.judge(Verdict::registry_error, kStart + 5, kStart + 6);
    assert_int_equal(static_cast<int>(ruling.fate), static_cast<int>(SessionFate::cut));
    assert_int_equal(static_cast<int>(ruling.why), static_cast<int>(Verdict::expired));
}

void a_kept_session_expiring_brings_a_sweep(void**) {
    RevocationSweep sweep = swept_once();
    sweep.begin(kUnreadable);
    sweep.judge(Verdict::registry_error, kStart + 5, kStart + 1);
    sweep.end();
    assert_false(sweep.due(kUnreadable, kStart + 5));
    assert_true(sweep.due(kUnreadable, kStart + 6));
}

void no_grace_cuts_at_the_first_error(void**) {
    RevocationSweep sweep = swept_once(0);
    sweep.begin(kUnreadable);
    const keyauth::SweepRuling ruling =
        sweep.judge(Verdict::registry_error, kValidUntil, kStart + 1);
    assert_int_equal(static_cast<int>(ruling.fate), static_cast<int>(SessionFate::cut));
    assert_int_equal(static_cast<int>(ruling.why), static_cast<int>(Verdict::registry_error));
    assert_int_equal(static_cast<int>(sweep.end()), static_cast<int>(SweepNews::none));
}

// A session checked outside a sweep (a broker reload) gets the ruling a
// sweep would give, and starts no grace of its own.
void ruling_between_sweeps_follows_the_rule(void**) {
    RevocationSweep sweep = swept_once(10);
    assert_int_equal(
        static_cast<int>(sweep.ruling(Verdict::registry_error, kValidUntil, kStart + 1).fate),
        static_cast<int>(SessionFate::keep_through_error));
    assert_int_equal(sweep.unreadable_since(), 0);
    assert_int_equal(
        static_cast<int>(sweep.ruling(Verdict::unknown_client, kValidUntil, kStart + 1).fate),
        static_cast<int>(SessionFate::cut));
    assert_int_equal(
        static_cast<int>(sweep.ruling(Verdict::registry_error, kStart, kStart + 1).why),
        static_cast<int>(Verdict::expired));
    sweep.begin(kUnreadable);
    sweep.judge(Verdict::registry_error, kValidUntil, kStart + 1);
    sweep.end();
    assert_int_equal(
        static_cast<int>(sweep.ruling(Verdict::registry_error, kValidUntil, kStart + 11).fate),
        static_cast<int>(SessionFate::keep_through_error));
    const keyauth::SweepRuling late =
        sweep.ruling(Verdict::registry_error, kValidUntil, kStart + 12);
    assert_int_equal(static_cast<int>(late.fate), static_cast<int>(SessionFate::cut));
    assert_int_equal(static_cast<int>(late.why), static_cast<int>(Verdict::registry_error));
}

void default_grace_is_a_minute(void**) {
    assert_int_equal(RevocationSweep().error_grace(), 60);
    assert_int_equal(RevocationSweep(-5).error_grace(), 0);
}

// The same rule through keyauth.h, as the NGINX module uses it: a kept
// grant is accepted again, a cut one says why.
void c_facade_follows_the_same_rule(void**) {
    keyauth_sweep_t sweep;
    std::memset(&sweep, 0x55, sizeof sweep);
    keyauth_sweep_init(&sweep, 3);
    keyauth_result_t grant;
    std::memset(&grant, 0, sizeof grant);
    grant.not_after = kValidUntil;
    keyauth_sweep_admitted(&sweep, grant.not_after);
    assert_true(keyauth_sweep_due(&sweep, 7, kStart));
    keyauth_sweep_begin(&sweep, 7);
    grant.verdict = KEYAUTH_ACCEPTED;
    assert_int_equal(keyauth_sweep_judge(&sweep, &grant, kStart), KEYAUTH_SESSION_KEEP);
    assert_int_equal(keyauth_sweep_end(&sweep), KEYAUTH_SWEEP_NEWS_NONE);
    assert_false(keyauth_sweep_due(&sweep, 7, kStart + 1));

    assert_true(keyauth_sweep_due(&sweep, kUnreadable, kStart + 1));
    keyauth_sweep_begin(&sweep, kUnreadable);
    grant.verdict = KEYAUTH_REGISTRY_ERROR;
    assert_int_equal(keyauth_sweep_judge(&sweep, &grant, kStart + 1),
                     KEYAUTH_SESSION_KEEP_THROUGH_ERROR);
    assert_int_equal(grant.verdict, KEYAUTH_ACCEPTED);
    assert_int_equal(keyauth_sweep_end(&sweep), KEYAUTH_SWEEP_REGISTRY_UNREADABLE);
    assert_int_equal(keyauth_sweep_kept_through_error(&sweep), 1);

    assert_false(keyauth_sweep_due(&sweep, kUnreadable, kStart + 4));
    assert_true(keyauth_sweep_due(&sweep, kUnreadable, kStart + 5));
    keyauth_sweep_begin(&sweep, kUnreadable);
    grant.verdict = KEYAUTH_REGISTRY_ERROR;
    assert_int_equal(keyauth_sweep_judge(&sweep, &grant, kStart + 5), KEYAUTH_SESSION_CUT);
    assert_int_equal(grant.verdict, KEYAUTH_REGISTRY_ERROR);

    // A verdict a C caller made up is no answer to keep a session by.
    keyauth_sweep_begin(&sweep, 8);
    std::memset(&grant.verdict, 0x7f, sizeof grant.verdict);
    assert_int_equal(keyauth_sweep_judge(&sweep, &grant, kStart + 6), KEYAUTH_SESSION_CUT);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(not_due_while_nothing_changes),
        cmocka_unit_test(due_when_the_generation_moves),
        cmocka_unit_test(due_when_a_validity_ends),
        cmocka_unit_test(due_for_a_session_admitted_since_with_a_shorter_validity),
        cmocka_unit_test(positive_answers_cut),
        cmocka_unit_test(registry_error_keeps_sessions_and_says_so_once),
        cmocka_unit_test(a_sweep_within_the_grace_keeps_the_first_error_time),
        cmocka_unit_test(readable_again_within_the_grace_keeps_and_says_so),
        cmocka_unit_test(a_validity_that_ended_is_cut_through_an_error),
        cmocka_unit_test(a_kept_session_expiring_brings_a_sweep),
        cmocka_unit_test(no_grace_cuts_at_the_first_error),
        cmocka_unit_test(ruling_between_sweeps_follows_the_rule),
        cmocka_unit_test(default_grace_is_a_minute),
        cmocka_unit_test(c_facade_follows_the_same_rule),
    };
    return run_group(tests);
}
