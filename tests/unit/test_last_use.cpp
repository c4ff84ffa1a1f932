// Last use per client: marks kept in memory once a minute, written to the
// server's own file without ever waiting, the later time kept, and a file
// that is not ours refused.
#include "unit_test.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
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

// flock(), as the core calls it, with a hook a test sets: what another
// process does between a flush's open and its lock. The test binary's
// definition is the one the static core links against.
namespace {
void (*before_next_flock)() = nullptr;
}

extern "C" int flock(int fd, int operation) {
    using Flock = int (*)(int, int);
    static const auto real = reinterpret_cast<Flock>(dlsym(RTLD_NEXT, "flock"));
    if (before_next_flock != nullptr) {
        void (*hook)() = before_next_flock;
        before_next_flock = nullptr;
        hook();
    }
    return real(fd, operation);
}

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

// The file's bytes, for the tests that damage it as a crash or its owner
// could: page 0 the header, then pages of 51 slots of 80 bytes (tag, minute,
// check, id).
constexpr off_t kPage = 4096;
constexpr off_t kSlot = 80;

std::string file_bytes(const std::string& path) {
    std::string bytes;
    FILE* f = std::fopen(path.c_str(), "rb");
    assert_non_null(f);
    char buffer[65536];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;)
        bytes.append(buffer, n);
    std::fclose(f);
    return bytes;
}

// Where the slot naming id begins (its id is 16 bytes in).
off_t slot_of(const std::string& path, const std::string& id) {
    const std::string bytes = file_bytes(path);
    const std::string field = id + std::string(1, '\0');
    for (off_t at = kPage; at + kSlot <= off_t(bytes.size()); at += kSlot) {
        if ((at % kPage) + kSlot > kPage) {
            at = (at / kPage + 1) * kPage - kSlot;  // the page's spare bytes
            continue;
        }
        if (bytes.compare(at + 16, field.size(), field) == 0)
            return at;
    }
    fail_msg("no slot names %s", id.c_str());
    return -1;
}

void overwrite(const std::string& path, off_t at, const void* bytes, std::size_t size) {
    const int fd = open(path.c_str(), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, size, at), static_cast<ssize_t>(size));
    close(fd);
}

FlushOutcome flushed(LastUseRecorder& recorder, std::int64_t now) {
    return recorder.flush(now).outcome;
}

void torn_slots_read_as_absent_and_are_written_again(void**) {
    TempDir dir;
    const std::string path = dir / "last-use";
    LastUseRecorder recorder(path, 1);
    recorder.mark("alice", kStart);
    recorder.mark("bob", kStart);
    assert_int_equal(static_cast<int>(flushed(recorder, kStart)),
                     static_cast<int>(FlushOutcome::written));
    // alice's minute torn from its check (a crash inside the write)
    const std::uint32_t later_minute = kMinute / 60 + 7;
    overwrite(path, slot_of(path, "alice") + 8, &later_minute, sizeof later_minute);
    // bob's id changed under its tag (a forged or torn id): no record
    overwrite(path, slot_of(path, "bob") + 16, "rob", 3);
    const LastUseMap uses = read_ok(path);
    assert_int_equal(uses.size(), 0);
    assert_false(keyauth::read_last_use_of(path, "alice")->has_value());
    // the next write of alice puts her slot right (not a later minute read
    // from the torn one: at least this recent, never newer)
    recorder.mark("alice", kStart + 60);
    recorder.mark("bob", kStart + 60);
    assert_int_equal(static_cast<int>(flushed(recorder, kStart + 60)),
                     static_cast<int>(FlushOutcome::written));
    const LastUseMap after = read_ok(path);
    assert_int_equal(after.size(), 2);
    assert_int_equal(after.at("alice"), kMinute + 60);
    assert_int_equal(after.at("bob"), kMinute + 60);
}

// A clock stepped back (NTP, an operator) never makes a record older.
void a_clock_stepped_back_keeps_the_later_minute(void**) {
    TempDir dir;
    LastUseRecorder recorder(dir / "last-use", 1);
    recorder.mark("alice", kStart + 600);
    assert_int_equal(recorder.flush(kStart + 600).written, 1);
    recorder.mark("alice", kStart);  // ten minutes earlier, after the step
    const auto flush = recorder.flush(kStart + 1);
    assert_int_equal(static_cast<int>(flush.outcome), static_cast<int>(FlushOutcome::written));
    assert_int_equal(flush.written, 0);
    assert_int_equal(flush.page_writes, 0);  // nothing newer: nothing written
    assert_int_equal(recorder.marks().pending(), 0);
    assert_int_equal(read_ok(dir / "last-use").at("alice"), kMinute + 600);
}

// The flush reads the pages its marks hash to and writes only those it
// changed, in runs: a minute's marks already in the file write nothing.
void a_flush_writes_only_the_pages_it_changes(void**) {
    TempDir dir;
    LastUseRecorder recorder(dir / "last-use", 1);
    for (int i = 0; i < 200; ++i)
        recorder.mark("client" + std::to_string(i), kStart);
    const auto first = recorder.flush(kStart);
    assert_int_equal(first.written, 200);
    assert_true(first.page_writes >= 1);
    assert_true(first.page_writes <= 16);  // runs of 16 pages, not 200 writes
    assert_true(first.page_reads <= 16);
    LastUseRecorder second(dir / "last-use", 1);  // another worker, same minute
    for (int i = 0; i < 200; ++i)
        second.mark("client" + std::to_string(i), kStart + 5);
    const auto again = second.flush(kStart + 5);
    assert_int_equal(static_cast<int>(again.outcome), static_cast<int>(FlushOutcome::written));
    assert_int_equal(again.written, 0);
    assert_int_equal(again.page_writes, 0);
    assert_int_equal(second.marks().pending(), 0);
    // one client a minute later: one page written
    second.mark("client7", kStart + 60);
    const auto one = second.flush(kStart + 60);
    assert_int_equal(one.written, 1);
    assert_int_equal(one.page_writes, 1);
    assert_int_equal(one.page_reads, 1);
}

// More clients than the first table holds: it doubles (renamed over the
// file, under its lock), and a recorder made before follows the new file.
void many_clients_grow_the_table_and_every_recorder_follows(void**) {
    TempDir dir;
    const std::string path = dir / "last-use";
    LastUseRecorder early(path, 1);
    early.mark("early", kStart);
    assert_int_equal(static_cast<int>(flushed(early, kStart)),
                     static_cast<int>(FlushOutcome::written));
    const int old_file = open(path.c_str(), O_RDONLY);  // its inode not reused
    struct stat before {};
    assert_int_equal(fstat(old_file, &before), 0);

    LastUseRecorder recorder(path, 1, 8192);
    std::size_t growths = 0;
    for (int i = 0; i < 20000; ++i) {
        const std::string id = "device" + std::to_string(i);
        recorder.mark(id, kStart);
        if (recorder.crowded()) {
            const auto flush = recorder.flush(kStart);
            assert_int_equal(static_cast<int>(flush.outcome),
                             static_cast<int>(FlushOutcome::written));
            growths += flush.growths;
            recorder.mark(id, kStart);  // it may have been dropped
        }
    }
    growths += recorder.flush(kStart).growths;
    assert_true(growths >= 4);
    struct stat after {};
    assert_int_equal(stat(path.c_str(), &after), 0);
    assert_true(after.st_ino != before.st_ino);  // a new file, renamed over
    assert_true(after.st_size > before.st_size);
    assert_int_equal(after.st_mode & 07777, 0640);
    assert_int_equal(access((path + ".grow").c_str(), F_OK), -1);
    close(old_file);

    early.mark("early", kStart + 60);
    early.mark("late", kStart + 60);
    assert_int_equal(static_cast<int>(flushed(early, kStart + 60)),
                     static_cast<int>(FlushOutcome::written));
    const LastUseMap uses = read_ok(path);
    assert_int_equal(uses.size(), 20002);
    assert_int_equal(uses.at("early"), kMinute + 60);
    assert_int_equal(uses.at("late"), kMinute + 60);
    for (int i = 0; i < 20000; i += 997)
        assert_int_equal(uses.at("device" + std::to_string(i)), kMinute);
    // one client, two pages at most: the same answer as the whole map
    for (const auto& [id, time] : uses) {
        auto one = keyauth::read_last_use_of(path, id);
        assert_ok(one);
        if (!one->has_value() || **one != time)
            fail_msg("read_last_use_of(%s) differs from read_last_use", id.c_str());
    }
    auto never = keyauth::read_last_use_of(path, "never-seen");
    assert_ok(never);
    assert_false(never->has_value());
}

// Another process replaced the file (a growth, a migration) after this one
// opened it and before it locked it: the inode it locked is no longer the
// file's, so it opens again; written to the old inode, the marks would be
// lost with it.
std::string replaced_path;

void a_flush_follows_a_file_replaced_between_its_open_and_its_lock(void**) {
    TempDir dir;
    const std::string path = dir / "last-use";
    replaced_path = path;
    LastUseRecorder recorder(path, 1);
    recorder.mark("alice", kStart);
    assert_int_equal(static_cast<int>(flushed(recorder, kStart)),
                     static_cast<int>(FlushOutcome::written));
    // another process's new file, renamed over the path while this one waits
    LastUseRecorder other(dir / "replacement", 1);
    other.mark("bob", kStart);
    assert_int_equal(static_cast<int>(flushed(other, kStart)),
                     static_cast<int>(FlushOutcome::written));
    before_next_flock = [] {
        const std::string from = replaced_path.substr(0, replaced_path.rfind('/')) + "/replacement";
        assert_int_equal(rename(from.c_str(), replaced_path.c_str()), 0);
    };
    recorder.mark("carol", kStart + 60);
    assert_int_equal(static_cast<int>(flushed(recorder, kStart + 60)),
                     static_cast<int>(FlushOutcome::written));
    assert_null(reinterpret_cast<void*>(before_next_flock));  // the hook ran
    const LastUseMap uses = read_ok(path);
    assert_int_equal(uses.count("alice"), 0);  // the old file's, gone with it
    assert_int_equal(uses.count("carol"), 1);  // written to the file, not the old inode
    assert_int_equal(uses.at("carol"), kMinute + 60);
    assert_int_equal(uses.at("bob"), kMinute);
}

// A client whose home page is full is in the page's buddy: the one-client
// lookup reads it there. Up to the first growth, which comes only when a
// pair is full, so some clients sit in their buddies just before it.
void one_client_is_found_in_its_home_or_its_buddy(void**) {
    TempDir dir;
    const std::string path = dir / "last-use";
    LastUseRecorder recorder(path, 1);
    std::vector<std::string> ids;
    for (int batch = 0; batch < 200; ++batch) {
        for (int i = 0; i < 10; ++i) {
            ids.push_back("client" + std::to_string(ids.size()));
            recorder.mark(ids.back(), kStart);
        }
        const auto flush = recorder.flush(kStart);
        assert_int_equal(static_cast<int>(flush.outcome), static_cast<int>(FlushOutcome::written));
        if (flush.growths != 0)
            return;
        for (const std::string& id : ids) {
            auto one = keyauth::read_last_use_of(path, id);
            assert_ok(one);
            if (!one->has_value())
                fail_msg("%s not found among %zu clients", id.c_str(), ids.size());
        }
    }
    fail_msg("no growth after 2 000 clients in a table of 816 slots");
}

// Workers writing one file at once, growing it as they go: each flush that
// finds the file held keeps its marks, and in the end every client of every
// worker is in the file (none lost to a growth another worker made).
void workers_writing_at_once_lose_no_client(void**) {
    TempDir dir;
    const std::string path = dir / "last-use";
    constexpr int kWorkers = 4, kClients = 4000;
    std::vector<pid_t> children;
    for (int w = 0; w < kWorkers; ++w) {
        const pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            LastUseRecorder recorder(path, 1, 1024);
            int failed = 0;
            for (int i = 0; i < kClients; ++i) {
                const std::string id = "w" + std::to_string(w) + "c" + std::to_string(i);
                recorder.mark(id, kStart);
                if (recorder.crowded()) {
                    // held by another worker: tried again (a server's next
                    // interval), so that no mark is dropped meanwhile
                    FlushOutcome outcome;
                    while ((outcome = recorder.flush(kStart).outcome) == FlushOutcome::busy)
                        usleep(100);
                    failed += outcome == FlushOutcome::failed;
                    recorder.mark(id, kStart);
                }
            }
            for (int tries = 0; recorder.marks().pending() != 0 && tries < 10000; ++tries) {
                failed += recorder.flush(kStart).outcome == FlushOutcome::failed;
                usleep(100);
            }
            _exit(failed != 0 ? 1 : recorder.marks().pending() != 0 ? 2 : 0);
        }
        children.push_back(pid);
    }
    for (const pid_t pid : children) {
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    const LastUseMap uses = read_ok(path);
    assert_int_equal(uses.size(), kWorkers * kClients);
}

// Files that are not a last-use table, or not ours: refused by the writer
// (marks kept) and, where not a table, by the reader; never followed.
void hostile_files_are_refused(void**) {
    TempDir dir;
    const std::string path = dir / "last-use";
    auto refused = [&](const char* what, const char* said) {
        LastUseRecorder recorder(path, 1);
        recorder.mark("alice", kStart);
        const auto flush = recorder.flush(kStart);
        if (flush.outcome != FlushOutcome::failed)
            fail_msg("%s: written", what);
        if (flush.message.find(said) == std::string::npos)
            fail_msg("%s: '%s'", what, flush.message.c_str());
        assert_int_equal(recorder.marks().pending(), 1);
    };
    auto made = [&] {
        unlink(path.c_str());
        LastUseRecorder recorder(path, 1);
        recorder.mark("bob", kStart);
        assert_int_equal(static_cast<int>(flushed(recorder, kStart)),
                         static_cast<int>(FlushOutcome::written));
    };
    made();
    overwrite(path, 0, "KEYAUTH", 7);
    refused("wrong magic", "not a keyauth last-use file");
    assert_false(keyauth::read_last_use(path).ok());

    made();
    const std::uint32_t absurd = 40;
    overwrite(path, 28, &absurd, sizeof absurd);  // 2^40 pages
    refused("absurd log2", "geometry");
    assert_false(keyauth::read_last_use(path).ok());

    made();
    assert_int_equal(truncate(path.c_str(), 3 * kPage), 0);  // cut
    refused("cut file", "wrong size");
    auto cut = keyauth::read_last_use(path);
    assert_false(cut.ok());
    assert_true(cut.error().message.find("wrong size") != std::string::npos);

    made();
    assert_int_equal(chown(path.c_str(), 1, 1), 0);
    refused("another user's", "owned by uid 1");

    made();
    assert_int_equal(chmod(path.c_str(), 0660), 0);
    refused("group-writable", "writable by group");

    unlink(path.c_str());
    assert_int_equal(mkfifo(path.c_str(), 0600), 0);
    refused("a FIFO", "not a regular file");
    assert_false(keyauth::read_last_use(path).ok());

    unlink(path.c_str());
    assert_int_equal(symlink((dir / "elsewhere").c_str(), path.c_str()), 0);
    refused("a link", "cannot open");
    assert_int_equal(access((dir / "elsewhere").c_str(), F_OK), -1);  // never created
}

// Format 1 as keyauth before the table wrote it: a 64-byte header, then
// 80-byte records (id, Unix seconds, FNV-1a over both ^ 0x6b61). Written
// here, not by the core: the bytes an older server left, independently of
// the reader they test.
std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t h = 14695981039346656037ull) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

void write_format1(const std::string& path,
                   const std::vector<std::pair<std::string, std::int64_t>>& records) {
    std::string bytes(64, '\0');
    bytes.replace(0, 16, "keyauth last-use");
    const std::uint32_t format = 1, record_size = 80;
    bytes.replace(16, 4, reinterpret_cast<const char*>(&format), 4);
    bytes.replace(20, 4, reinterpret_cast<const char*>(&record_size), 4);
    for (const auto& [id, time] : records) {
        char record[80] = {};
        std::memcpy(record, id.data(), id.size());
        std::memcpy(record + 64, &time, 8);
        const std::uint64_t check = fnv1a(record + 64, 8, fnv1a(record, 64)) ^ 0x6b61u;
        std::memcpy(record + 72, &check, 8);
        bytes.append(record, sizeof record);
    }
    FILE* f = std::fopen(path.c_str(), "wb");
    assert_non_null(f);
    assert_int_equal(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
    assert_int_equal(chmod(path.c_str(), 0640), 0);
}

void a_format1_file_is_moved_aside_and_still_read(void**) {
    TempDir dir;
    const std::string path = dir / "last-use";
    write_format1(path, {{"alice", kMinute}, {"bob", kMinute + 600}});
    assert_int_equal(read_ok(path).at("bob"), kMinute + 600);  // read as it is
    LastUseRecorder recorder(path, 1);
    recorder.mark("bob", kStart + 60);
    recorder.mark("carol", kStart + 60);
    assert_int_equal(static_cast<int>(flushed(recorder, kStart + 60)),
                     static_cast<int>(FlushOutcome::written));
    // the old records under PATH.format1, the new table at PATH
    assert_int_equal(read_ok(path + ".format1").size(), 2);
    const std::string bytes = file_bytes(path);
    assert_true(bytes.compare(0, 16, "keyauth last-use") != 0);  // an older reader refuses it
    std::uint32_t format = 0;
    std::memcpy(&format, bytes.data() + 16, 4);
    assert_int_equal(format, 2);
    // both read, the later time per client
    const LastUseMap uses = read_ok(path);
    assert_int_equal(uses.size(), 3);
    assert_int_equal(uses.at("alice"), kMinute);
    assert_int_equal(uses.at("bob"), kMinute + 600);
    assert_int_equal(uses.at("carol"), kMinute + 60);
    for (const auto& [id, time] : uses)
        assert_int_equal(**keyauth::read_last_use_of(path, id), time);
    // removed by the operator: the table alone
    assert_int_equal(unlink((path + ".format1").c_str()), 0);
    assert_int_equal(read_ok(path).size(), 2);
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
        cmocka_unit_test(torn_slots_read_as_absent_and_are_written_again),
        cmocka_unit_test(a_clock_stepped_back_keeps_the_later_minute),
        cmocka_unit_test(a_flush_writes_only_the_pages_it_changes),
        cmocka_unit_test(many_clients_grow_the_table_and_every_recorder_follows),
        cmocka_unit_test(a_flush_follows_a_file_replaced_between_its_open_and_its_lock),
        cmocka_unit_test(one_client_is_found_in_its_home_or_its_buddy),
        cmocka_unit_test(workers_writing_at_once_lose_no_client),
        cmocka_unit_test(hostile_files_are_refused),
        cmocka_unit_test(a_format1_file_is_moved_aside_and_still_read),
        cmocka_unit_test(a_time_no_calendar_holds_is_no_record),
        cmocka_unit_test(a_pass_over_open_sessions_writes_as_it_goes_and_drops_none),
        cmocka_unit_test(intervals_are_one_to_sixty_seconds),
        cmocka_unit_test(c_facade_marks_and_flushes),
    };
    return run_group(tests);
}
