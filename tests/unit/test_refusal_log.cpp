// The refusal log's rule both servers follow: per client and reason the
// first refusal is logged, the rest of its minute counted quietly, and
// nothing a client presents grows the memory or buys a line per refusal.
#include "unit_test.hpp"

#include <cstring>
#include <set>
#include <string>

#include "keyauth/keyauth.h"
#include "keyauth/refusal_log.hpp"

using keyauth::RefusalLog;
using keyauth::RefusalNote;
using keyauth::Verdict;

namespace {

constexpr std::int64_t kStart = 1'700'000'000;

void first_refusal_is_logged_the_next_stay_quiet(void**) {
    RefusalLog log;
    const RefusalNote first = log.note("alice", Verdict::expired, kStart);
    assert_true(first.log);
    assert_int_equal(first.unlogged, 0);
    assert_sv_equal(first.summary_text(), "");
    for (int i = 1; i < 50; ++i)
        assert_false(log.note("alice", Verdict::expired, kStart + i % 60).log);
}

void after_a_minute_the_next_refusal_is_logged_with_the_count(void**) {
    RefusalLog log;
    assert_true(log.note("alice", Verdict::expired, kStart).log);
    for (int i = 0; i < 59; ++i)
        assert_false(log.note("alice", Verdict::expired, kStart + 59).log);
    const RefusalNote summary = log.note("alice", Verdict::expired, kStart + 60);
    assert_true(summary.log);
    assert_int_equal(summary.unlogged, 59);
    assert_int_equal(summary.seconds, 60);
    assert_sv_equal(summary.summary_text(),
                    "and 59 more refusals of this client for this reason in the last 60 s");
    // A new minute starts at that line.
    assert_false(log.note("alice", Verdict::expired, kStart + 61).log);
    assert_false(log.note("alice", Verdict::expired, kStart + 119).log);
    const RefusalNote next = log.note("alice", Verdict::expired, kStart + 120);
    assert_true(next.log);
    assert_int_equal(next.unlogged, 2);
}

void a_client_back_after_a_quiet_minute_is_logged_plainly(void**) {
    RefusalLog log;
    assert_true(log.note("alice", Verdict::expired, kStart).log);
    const RefusalNote later = log.note("alice", Verdict::expired, kStart + 600);
    assert_true(later.log);
    assert_int_equal(later.unlogged, 0);
    assert_sv_equal(later.summary_text(), "");
}

void other_clients_and_reasons_have_their_own_line(void**) {
    RefusalLog log;
    assert_true(log.note("alice", Verdict::unknown_client, kStart).log);
    assert_false(log.note("alice", Verdict::unknown_client, kStart + 1).log);
    assert_true(log.note("bob", Verdict::unknown_client, kStart + 1).log);
    // A wrong secret shares the unknown id's key (no registered-id oracle).
    assert_false(log.note("alice", Verdict::mismatch, kStart + 1).log);
    assert_true(log.note("alice", Verdict::expired, kStart + 1).log);
    assert_true(log.note("bob", Verdict::expired, kStart + 1).log);
    assert_false(log.note("bob", Verdict::expired, kStart + 2).log);
}

void refusals_naming_no_client_share_one_line_per_reason(void**) {
    RefusalLog log;
    assert_true(log.note("", Verdict::missing, kStart).log);
    assert_false(log.note("", Verdict::missing, kStart + 1).log);
    assert_true(log.note("", Verdict::malformed, kStart + 1).log);
    const RefusalNote summary = log.note("", Verdict::missing, kStart + 60);
    assert_true(summary.log);
    assert_true(summary.shared);
    assert_int_equal(summary.unlogged, 1);
    assert_sv_equal(summary.summary_text(),
                    "and 1 more refusals for this reason, of any client, in the last 60 s");
}

// A full set keeps its entries for their minute; once over, the oldest goes.
void a_full_table_replaces_the_oldest_entry_whose_minute_is_over(void**) {
    RefusalLog log(8, 8);  // one set of 8 each
    for (int i = 0; i < 8; ++i)
        assert_true(log.note("c" + std::to_string(i), Verdict::expired, kStart + i).log);
    // Full and all inside their minute: a ninth client is counted with its reason.
    const RefusalNote ninth = log.note("c8", Verdict::expired, kStart + 10);
    assert_true(ninth.log);
    assert_true(ninth.shared);
    assert_false(log.note("c9", Verdict::expired, kStart + 11).log);
    // c0's minute is over: it is the one replaced, the others still known.
    assert_true(log.note("c10", Verdict::expired, kStart + 60).log);
    assert_false(log.note("c7", Verdict::expired, kStart + 61).log);
    assert_false(log.note("c10", Verdict::expired, kStart + 61).log);
    assert_true(log.note("c0", Verdict::expired, kStart + 61).log);  // replaced c1
    assert_false(log.note("c2", Verdict::expired, kStart + 61).log);
}

// Fresh garbage ids buy no line each: the strangers' table fills, then
// every further one is counted under its reason; the registered clients'
// table is untouched.
void unknown_client_ids_are_bounded(void**) {
    RefusalLog log(8, 8);
    assert_true(log.note("alice", Verdict::expired, kStart).log);
    int lines = 0;
    for (int i = 0; i < 100000; ++i)
        lines += log.note("x" + std::to_string(i), Verdict::unknown_client, kStart + 1).log;
    assert_int_equal(lines, 8 + 1);
    assert_false(log.note("alice", Verdict::expired, kStart + 2).log);
    // And at the default size, a million of them in one minute: a bounded count.
    RefusalLog big;
    lines = 0;
    for (int i = 0; i < 1000000; ++i)
        lines += big.note("x" + std::to_string(i), Verdict::unknown_client, kStart).log;
    assert_true(lines <= static_cast<int>(keyauth::kRefusalLogStrangers) + 1);
    assert_true(big.note("alice", Verdict::expired, kStart).log);
}

// A wrong secret for a registered id is counted as an unknown id is: once a
// guesser has filled the strangers' table and spent its shared line,
// neither gets a line, so whether one is written tells nothing about the id.
void a_wrong_secret_tells_no_guesser_the_id_is_registered(void**) {
    RefusalLog log(8, 8);
    for (int i = 0; i < 9; ++i)
        log.note("x" + std::to_string(i), Verdict::unknown_client, kStart);
    const RefusalNote registered = log.note("alice", Verdict::mismatch, kStart + 1);
    assert_false(registered.log);
    const RefusalNote unknown = log.note("nobody", Verdict::unknown_client, kStart + 1);
    assert_int_equal(registered.log, unknown.log);
    assert_false(log.note("alice", Verdict::mismatch, kStart + 2).log);
    assert_false(log.note("nobody", Verdict::unknown_client, kStart + 2).log);
}

// Drained in batches, every overdue entry is reported once, wherever the
// previous batch stopped.
void overdue_entries_drained_in_batches_each_once(void**) {
    RefusalLog log;
    for (int round = 0; round < 2; ++round) {
        const std::int64_t start = kStart + round * 1000;
        for (int i = 0; i < 100; ++i) {
            const std::string id = "c" + std::to_string(i);
            log.note(id, Verdict::expired, start);
            log.note(id, Verdict::expired, start + 1);
        }
        std::set<std::string> reported;
        keyauth::RefusalSummary batch[16];
        std::size_t taken = 0;
        while ((taken = log.take_overdue(start + 61, batch, 16)) > 0) {
            for (std::size_t i = 0; i < taken; ++i)
                assert_true(reported.insert(std::string(batch[i].client_id)).second);
        }
        assert_int_equal(reported.size(), 100);
    }
}

void a_clock_going_back_restarts_the_minute(void**) {
    RefusalLog log;
    assert_true(log.note("alice", Verdict::expired, kStart).log);
    assert_false(log.note("alice", Verdict::expired, kStart - 3600).log);
    assert_false(log.note("alice", Verdict::expired, kStart - 3600 + 59).log);
    assert_true(log.note("alice", Verdict::expired, kStart - 3600 + 60).log);
}

void c_facade_follows_the_same_rule(void**) {
    keyauth_refusal_log_t* log = keyauth_refusal_log_create();
    assert_non_null(log);
    keyauth_refusal_note_t note;
    keyauth_refusal_log_note(log, "alice", 5, KEYAUTH_EXPIRED, kStart, &note);
    assert_int_equal(note.log, 1);
    keyauth_refusal_log_note(log, "alice", 5, KEYAUTH_EXPIRED, kStart + 1, &note);
    assert_int_equal(note.log, 0);
    keyauth_refusal_log_note(log, "alice", 5, KEYAUTH_EXPIRED, kStart + 61, &note);
    assert_int_equal(note.log, 1);
    assert_int_equal(note.unlogged, 1);
    assert_string_equal(note.summary,
                        "and 1 more refusals of this client for this reason in the last 61 s");
    // A made-up verdict and a NULL id are refusals like any other.
    keyauth_verdict_t odd;
    std::memset(&odd, 0x7f, sizeof odd);
    keyauth_refusal_log_note(log, nullptr, 0, odd, kStart, &note);
    assert_int_equal(note.log, 1);
    // The timer's side: pending while counted, taken once the minute is over.
    keyauth_refusal_log_note(log, "bob", 3, KEYAUTH_UNKNOWN_CLIENT, kStart, &note);
    keyauth_refusal_log_note(log, "bob", 3, KEYAUTH_UNKNOWN_CLIENT, kStart + 1, &note);
    assert_int_equal(note.log, 0);
    assert_int_equal(keyauth_refusal_log_pending(log), 1);
    keyauth_refusal_summary_t overdue[20];
    assert_int_equal(keyauth_refusal_log_take_overdue(log, kStart + 30, overdue, 20), 0);
    assert_int_equal(keyauth_refusal_log_take_overdue(log, kStart + 60, overdue, 20), 1);
    assert_string_equal(overdue[0].client_id, "bob");
    assert_int_equal(overdue[0].verdict, KEYAUTH_UNKNOWN_CLIENT);
    assert_int_equal(overdue[0].unlogged, 1);
    assert_int_equal(overdue[0].seconds, 60);
    assert_int_equal(keyauth_refusal_log_pending(log), 0);
    keyauth_refusal_log_free(log);
    // No log (out of memory): every refusal is logged.
    keyauth_refusal_log_note(nullptr, "alice", 5, KEYAUTH_EXPIRED, kStart, &note);
    assert_int_equal(note.log, 1);
    keyauth_refusal_log_free(nullptr);
}

// A server with a tick reports a quiet run once its minute is over, even
// when the client stopped; the key's next minute starts then.
void overdue_counts_are_taken_once_their_minute_is_over(void**) {
    RefusalLog log;
    keyauth::RefusalSummary summaries[2];
    assert_int_equal(log.take_overdue(kStart, summaries, 2), 0);
    assert_true(log.note("alice", Verdict::expired, kStart).log);
    assert_true(log.note("", Verdict::missing, kStart).log);
    assert_true(log.note("bob", Verdict::expired, kStart).log);  // logged, never again
    for (int i = 1; i <= 5; ++i) {
        assert_false(log.note("alice", Verdict::expired, kStart + i).log);
        assert_false(log.note("", Verdict::missing, kStart + i).log);
    }
    assert_int_equal(log.take_overdue(kStart + 59, summaries, 2), 0);
    assert_int_equal(log.take_overdue(kStart + 65, summaries, 1), 1);
    assert_sv_equal(summaries[0].client_id, "");
    assert_int_equal(static_cast<int>(summaries[0].verdict), static_cast<int>(Verdict::missing));
    assert_int_equal(summaries[0].unlogged, 5);
    assert_int_equal(log.take_overdue(kStart + 65, summaries, 2), 1);
    assert_sv_equal(summaries[0].client_id, "alice");
    assert_int_equal(static_cast<int>(summaries[0].verdict), static_cast<int>(Verdict::expired));
    assert_int_equal(summaries[0].unlogged, 5);
    assert_int_equal(summaries[0].seconds, 65);
    assert_int_equal(log.take_overdue(kStart + 200, summaries, 2), 0);
    // Taken counts as a line: the next refusal is inside the new minute.
    assert_false(log.note("alice", Verdict::expired, kStart + 66).log);
    const RefusalNote later = log.note("alice", Verdict::expired, kStart + 125);
    assert_true(later.log);
    assert_int_equal(later.unlogged, 1);
}

void client_chosen_text_is_escaped_and_cut(void**) {
    assert_sv_equal(keyauth::printable_for_log("sensor7:kitchen"), "sensor7:kitchen");
    assert_sv_equal(keyauth::printable_for_log(std::string("a\nb\\c\0d", 7)),
                    "a\\x0ab\\x5cc\\x00d");
    assert_sv_equal(keyauth::printable_for_log(std::string(100, 'x'), 4), "xxxx...");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_refusal_is_logged_the_next_stay_quiet),
        cmocka_unit_test(after_a_minute_the_next_refusal_is_logged_with_the_count),
        cmocka_unit_test(a_client_back_after_a_quiet_minute_is_logged_plainly),
        cmocka_unit_test(other_clients_and_reasons_have_their_own_line),
        cmocka_unit_test(refusals_naming_no_client_share_one_line_per_reason),
        cmocka_unit_test(a_full_table_replaces_the_oldest_entry_whose_minute_is_over),
        cmocka_unit_test(unknown_client_ids_are_bounded),
        cmocka_unit_test(a_wrong_secret_tells_no_guesser_the_id_is_registered),
        cmocka_unit_test(overdue_entries_drained_in_batches_each_once),
        cmocka_unit_test(a_clock_going_back_restarts_the_minute),
        cmocka_unit_test(c_facade_follows_the_same_rule),
        cmocka_unit_test(overdue_counts_are_taken_once_their_minute_is_over),
        cmocka_unit_test(client_chosen_text_is_escaped_and_cut),
    };
    return run_group(tests);
}
