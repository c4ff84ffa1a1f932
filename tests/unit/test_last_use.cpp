// Last use per client: marks kept in memory once a minute, written to the
// server's own file without ever waiting, the later time kept, and a file
// that is not ours refused.
#include "unit_test.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "keyauth/client_listing.hpp"
#include "keyauth/keyauth.h"
#include "keyauth/last_use.hpp"

using keyauth::FlushOutcome;
using keyauth::LastUseMap;
using keyauth::LastUseMarks;
using keyauth::LastUseRecorder;
using keyauth_test::TempDir;

namespace {

constexpr std::int64_t kStart = 1'700'000'040;          // 40 s into a minute
constexpr std::int64_t kMinute = kStart - kStart % 60;  // its start

std::vector<std::pair<std::string, std::int64_t>> taken(LastUseMarks& marks) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    marks.take([&](std::string_view id, std::int64_t time) {
        out.emplace_back(std::string(id), time);
        return true;
    });
    return out;
}

LastUseMap read_ok(const std::string& path) {
    auto read = keyauth::read_last_use(path);
    assert_ok(read);
    return *read;
}

void a_client_is_marked_once_a_minute_at_the_minute_start(void**) {
    LastUseMarks marks;
    for (int i = 0; i < 10; ++i)
        marks.mark("alice", kStart + i);
    assert_int_equal(marks.pending(), 1);
    auto out = taken(marks);
    assert_int_equal(out.size(), 1);
    assert_sv_equal(out[0].first, "alice");
    assert_int_equal(out[0].second, kMinute);
    // written: the same minute again is nothing new
    marks.mark("alice", kStart + 5);
    assert_int_equal(marks.pending(), 0);
    // the next minute is
    marks.mark("alice", kStart + 60);
    assert_int_equal(marks.pending(), 1);
    assert_int_equal(taken(marks)[0].second, kMinute + 60);
}

void a_full_table_drops_marks_and_stays_bounded(void**) {
    LastUseMarks marks(16);
    for (int i = 0; i < 1000; ++i)
        marks.mark("client" + std::to_string(i), kStart);
    assert_true(marks.pending() <= 16);
    assert_true(marks.dropped() >= 1000 - 16);
    assert_int_equal(taken(marks).size(), marks.dropped() == 0 ? 1000 : 1000 - marks.dropped());
    // nothing pending: every slot is reusable again
    marks.mark("late", kStart);
    assert_int_equal(marks.pending(), 1);
}

void marks_not_written_stay_pending(void**) {
    LastUseMarks marks;
    marks.mark("alice", kStart);
    marks.mark("bob", kStart);
    marks.take([](std::string_view id, std::int64_t) { return id == "bob"; });
    assert_int_equal(marks.pending(), 1);
    assert_sv_equal(taken(marks)[0].first, "alice");
}

void a_flush_writes_the_file_and_keytool_reads_it(void**) {
    TempDir dir;
    LastUseRecorder recorder(dir / "last-use", 60);
    assert_false(recorder.due(kStart));
    recorder.mark("alice", kStart);
    recorder.mark("bob", kStart + 61);
    assert_true(recorder.due(kStart + 61));
    const auto flush = recorder.flush(kStart + 61);
    assert_int_equal(static_cast<int>(flush.outcome), static_cast<int>(FlushOutcome::written));
    assert_int_equal(flush.written, 2);
    assert_false(recorder.due(kStart + 62));
    const LastUseMap uses = read_ok(dir / "last-use");
    assert_int_equal(uses.size(), 2);
    assert_int_equal(uses.at("alice"), kMinute);
    assert_int_equal(uses.at("bob"), kMinute + 60);
    struct stat st {};
    assert_int_equal(stat((dir / "last-use").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
}

// The file is another user's: a record whose time no calendar holds (its
// check right, as its writer could make it) is no record, for the reader
// and for the writer's index alike.
void a_time_no_calendar_holds_is_no_record(void**) {
    TempDir dir;
    LastUseRecorder recorder(dir / "last-use", 60);
    recorder.mark("forged", std::numeric_limits<std::int64_t>::max() - 60);
    recorder.mark("before1970", -120);
    recorder.mark("alice", kStart);
    recorder.flush(kStart + 61);
    const LastUseMap uses = read_ok(dir / "last-use");
    assert_int_equal(uses.size(), 1);
    assert_int_equal(uses.at("alice"), kMinute);
}

void the_later_time_wins_across_processes_and_files(void**) {
    TempDir dir;
    // two workers on one file: each keeps the max of stored and new
    LastUseRecorder first(dir / "last-use", 1), second(dir / "last-use", 1);
    first.mark("alice", kStart + 120);
    assert_int_equal(static_cast<int>(first.flush(kStart + 120).outcome),
                     static_cast<int>(FlushOutcome::written));
    second.mark("alice", kStart);  // an older minute, written later
    second.mark("bob", kStart);
    assert_int_equal(static_cast<int>(second.flush(kStart + 121).outcome),
                     static_cast<int>(FlushOutcome::written));
    first.mark("bob", kStart + 180);  // first has not seen bob's record yet
    assert_int_equal(static_cast<int>(first.flush(kStart + 181).outcome),
                     static_cast<int>(FlushOutcome::written));
    LastUseMap uses = read_ok(dir / "last-use");
    assert_int_equal(uses.size(), 2);
    assert_int_equal(uses.at("alice"), kMinute + 120);
    assert_int_equal(uses.at("bob"), kMinute + 180);

    // another host's file: merged, the later time per client
    LastUseRecorder other(dir / "other", 60);
    other.mark("alice", kStart + 600);
    other.mark("carol", kStart);
    assert_int_equal(static_cast<int>(other.flush(kStart + 600).outcome),
                     static_cast<int>(FlushOutcome::written));
    keyauth::merge_last_use(uses, read_ok(dir / "other"));
    assert_int_equal(uses.at("alice"), kMinute + 600);
    assert_int_equal(uses.at("bob"), kMinute + 180);
    assert_int_equal(uses.at("carol"), kMinute);

    // the listing's filter: no recorded use within the last 5 minutes
    const auto unused = keyauth::unused_within(uses, kMinute + 600, 300);
    assert_false(unused.matches("alice"));
    assert_true(unused.matches("bob"));
    assert_true(unused.matches("carol"));
    assert_true(unused.matches("dave"));  // never
}

void a_flush_skips_while_another_process_holds_the_file(void**) {
    TempDir dir;
    LastUseRecorder recorder(dir / "last-use", 1);
    recorder.mark("alice", kStart);
    assert_int_equal(static_cast<int>(recorder.flush(kStart).outcome),
                     static_cast<int>(FlushOutcome::written));
    const int held = open((dir / "last-use").c_str(), O_RDWR);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0);
    recorder.mark("bob", kStart + 60);
    const auto busy = recorder.flush(kStart + 60);  // returns at once
    assert_int_equal(static_cast<int>(busy.outcome), static_cast<int>(FlushOutcome::busy));
    assert_false(busy.report);
    assert_int_equal(recorder.marks().pending(), 1);  // kept for the next interval
    assert_int_equal(read_ok(dir / "last-use").count("bob"), 0);
    close(held);
    assert_true(recorder.due(kStart + 61));
    assert_int_equal(static_cast<int>(recorder.flush(kStart + 61).outcome),
                     static_cast<int>(FlushOutcome::written));
    assert_int_equal(read_ok(dir / "last-use").at("bob"), kMinute + 60);
}

void a_foreign_file_is_refused_cleanly_and_said_once(void**) {
    TempDir dir;
    FILE* foreign = std::fopen((dir / "last-use").c_str(), "w");
    assert_non_null(foreign);
    std::fputs("not ours, but long enough to hold a header of sixty-four bytes......\n", foreign);
    std::fclose(foreign);
    chmod((dir / "last-use").c_str(), 0640);
    auto read = keyauth::read_last_use(dir / "last-use");
    assert_false(read.ok());
    assert_true(read.error().message.find("not a keyauth last-use file") != std::string::npos);
    LastUseRecorder recorder(dir / "last-use", 1);
    recorder.mark("alice", kStart);
    const auto first = recorder.flush(kStart);
    assert_int_equal(static_cast<int>(first.outcome), static_cast<int>(FlushOutcome::failed));
    assert_true(first.report);
    const auto again = recorder.flush(kStart + 1);
    assert_int_equal(static_cast<int>(again.outcome), static_cast<int>(FlushOutcome::failed));
    assert_false(again.report);  // the same failure: not logged again
    assert_int_equal(recorder.marks().pending(), 1);
    // moved away: re-created, and the recovery is said
    assert_int_equal(rename((dir / "last-use").c_str(), (dir / "old").c_str()), 0);
    const auto back = recorder.flush(kStart + 2);
    assert_int_equal(static_cast<int>(back.outcome), static_cast<int>(FlushOutcome::written));
    assert_true(back.report);

    // a link, a group-writable file: refused, never followed or written
    assert_int_equal(symlink((dir / "old").c_str(), (dir / "link").c_str()), 0);
    LastUseRecorder via_link(dir / "link", 1);
    via_link.mark("alice", kStart);
    assert_int_equal(static_cast<int>(via_link.flush(kStart).outcome),
                     static_cast<int>(FlushOutcome::failed));
    assert_false(keyauth::read_last_use(dir / "link").ok());
    chmod((dir / "last-use").c_str(), 0660);
    recorder.mark("alice", kStart + 60);
    assert_int_equal(static_cast<int>(recorder.flush(kStart + 60).outcome),
                     static_cast<int>(FlushOutcome::failed));
}

void torn_and_damaged_records_are_skipped(void**) {
    TempDir dir;
    LastUseRecorder recorder(dir / "last-use", 1);
    recorder.mark("alice", kStart);
    recorder.mark("bob", kStart);
    assert_int_equal(static_cast<int>(recorder.flush(kStart).outcome),
                     static_cast<int>(FlushOutcome::written));
    // damage the first record's time (one of the two), and leave a torn
    // record at the end
    const int fd = open((dir / "last-use").c_str(), O_RDWR);
    assert_true(fd >= 0);
    const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(pwrite(fd, junk, sizeof junk, 64 + 64), 8);
    struct stat st {};
    fstat(fd, &st);
    assert_int_equal(pwrite(fd, junk, sizeof junk, st.st_size), 8);
    close(fd);
    const LastUseMap uses = read_ok(dir / "last-use");
    assert_int_equal(uses.size(), 1);
    // a fresh writer writes over the torn tail; the damaged id comes back
    LastUseRecorder next(dir / "last-use", 1);
    for (const char* id : {"alice", "bob", "carol"})
        next.mark(id, kStart + 60);
    assert_int_equal(static_cast<int>(next.flush(kStart + 60).outcome),
                     static_cast<int>(FlushOutcome::written));
    const LastUseMap after = read_ok(dir / "last-use");
    assert_int_equal(after.size(), 3);
    for (const char* id : {"alice", "bob", "carol"})
        assert_int_equal(after.at(id), kMinute + 60);
    struct stat end {};
    assert_int_equal(stat((dir / "last-use").c_str(), &end), 0);
    assert_int_equal((end.st_size - 64) % 80, 0);  // the torn tail written over
}

// The timer's pass over open sessions: each interval, marks or not, and
// more clients than the table holds all written when it flushes as it goes.
void a_pass_over_open_sessions_writes_as_it_goes_and_drops_none(void**) {
    TempDir dir;
    LastUseRecorder recorder(dir / "last-use", 2, 64);
    assert_true(recorder.interval_over(kStart));  // nothing pending: still time to mark
    assert_false(recorder.due(kStart));
    std::size_t flushes = 0;
    auto pass = [&](std::int64_t now) {
        for (int i = 0; i < 1000; ++i) {
            const std::string id = "device" + std::to_string(i);
            recorder.mark(id, now);
            if (recorder.crowded()) {
                assert_int_equal(static_cast<int>(recorder.flush(now).outcome),
                                 static_cast<int>(FlushOutcome::written));
                recorder.mark(id, now);  // it may have been dropped
                ++flushes;
            }
        }
        recorder.flush(now);
    };
    pass(kStart);
    assert_false(recorder.interval_over(kStart + 1));
    assert_true(recorder.interval_over(kStart + 2));
    assert_true(flushes >= 1000 / 16 / 2);  // a quarter of 64 slots at most
    LastUseMap uses = read_ok(dir / "last-use");
    assert_int_equal(uses.size(), 1000);
    for (const auto& [id, time] : uses)
        assert_int_equal(time, kMinute);
    // still open a minute later: every one marked again, every time moves
    pass(kStart + 60);
    uses = read_ok(dir / "last-use");
    assert_int_equal(uses.size(), 1000);
    for (const auto& [id, time] : uses)
        assert_int_equal(time, kMinute + 60);
}

void intervals_are_one_to_sixty_seconds(void**) {
    assert_int_equal(*keyauth::parse_last_use_interval("1s"), 1);
    assert_int_equal(*keyauth::parse_last_use_interval("1m"), 60);
    assert_false(keyauth::parse_last_use_interval("0").ok());
    assert_false(keyauth::parse_last_use_interval("61s").ok());
    assert_false(keyauth::parse_last_use_interval("fast").ok());
}

void c_facade_marks_and_flushes(void**) {
    TempDir dir;
    int64_t seconds = 0;
    char err[160];
    assert_int_equal(keyauth_last_use_interval("2s", 2, &seconds, err, sizeof err), 0);
    assert_int_equal(seconds, 2);
    assert_int_equal(keyauth_last_use_interval("2h", 2, &seconds, err, sizeof err), -1);
    keyauth_last_use_t* lu = keyauth_last_use_create((dir / "last-use").c_str(), 2);
    assert_non_null(lu);
    keyauth_last_use_mark(lu, "alice", 5, kStart);
    assert_true(keyauth_last_use_pending(lu));
    assert_false(keyauth_last_use_crowded(lu));  // one mark in 4 096 slots
    assert_false(keyauth_last_use_crowded(nullptr));
    assert_true(keyauth_last_use_due(lu, kStart));
    keyauth_last_use_flush_t flush;
    keyauth_last_use_flush(lu, kStart, &flush);
    assert_int_equal(flush.outcome, KEYAUTH_LAST_USE_WRITTEN);
    assert_int_equal(flush.written, 1);
    assert_false(keyauth_last_use_pending(lu));
    keyauth_last_use_free(lu);
    keyauth_last_use_mark(nullptr, "alice", 5, kStart);  // off: nothing
    assert_int_equal(read_ok(dir / "last-use").at("alice"), kMinute);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_client_is_marked_once_a_minute_at_the_minute_start),
        cmocka_unit_test(a_full_table_drops_marks_and_stays_bounded),
        cmocka_unit_test(marks_not_written_stay_pending),
        cmocka_unit_test(a_flush_writes_the_file_and_keytool_reads_it),
        cmocka_unit_test(the_later_time_wins_across_processes_and_files),
        cmocka_unit_test(a_flush_skips_while_another_process_holds_the_file),
        cmocka_unit_test(a_foreign_file_is_refused_cleanly_and_said_once),
        cmocka_unit_test(torn_and_damaged_records_are_skipped),
        cmocka_unit_test(a_time_no_calendar_holds_is_no_record),
        cmocka_unit_test(a_pass_over_open_sessions_writes_as_it_goes_and_drops_none),
        cmocka_unit_test(intervals_are_one_to_sixty_seconds),
        cmocka_unit_test(c_facade_marks_and_flushes),
    };
    return run_group(tests);
}
