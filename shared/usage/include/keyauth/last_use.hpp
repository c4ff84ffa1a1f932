// When each client last authenticated, as each server saw it: "at least this
// recent". Never read by anything that admits or refuses.
//
// A server process marks the client id of every admission in LastUseMarks
// (in memory, bounded, no lock, no allocation, no system call), and the
// client of every session still open at each flush (an MQTT session or a
// WebSocket open for days is in use all along), and at most
// once per interval (a minute by default) LastUseRecorder writes the marks
// to a file of the server's own (not the registry), off the request path:
// it opens the file, takes flock(LOCK_EX | LOCK_NB) and, if another process
// holds it, keeps the marks for the next interval. It never waits, and
// keeps nothing of the file between flushes: the file is an on-disk hash
// table (last_use_table.hpp) whose pages the marks hash to. Stored
// times only grow (the max of stored and new). keytool reads the files of
// every host it is given (read_last_use) and takes the max per client.
//
// What a stored time means: the client authenticated at that minute or
// later. Marks dropped (the table full), a worker killed before its flush,
// a file replaced by its owner: all make the record older or absent, never
// newer than a real use unless the file's owner wrote it so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "keyauth/result.hpp"

namespace keyauth {

inline constexpr std::int64_t kLastUseResolution = 60;        // stamps are whole minutes
inline constexpr std::int64_t kLastUseDefaultInterval = 60;   // seconds between flushes
inline constexpr std::int64_t kLastUseMinInterval = 1;        // a test's shorter interval
inline constexpr std::size_t kLastUseMarkSlots = 4096;        // per process

// "interval=" durations, as both servers take them: 1s to 60s.
Result<std::int64_t> parse_last_use_interval(std::string_view text);

// The ids admitted since the last flush, each once per minute. A full
// neighbourhood drops the mark (the record then says "at least this
// recent", which stays true).
class LastUseMarks {
  public:
    explicit LastUseMarks(std::size_t slots = kLastUseMarkSlots);
    ~LastUseMarks();
    LastUseMarks(const LastUseMarks&) = delete;
    LastUseMarks& operator=(const LastUseMarks&) = delete;

    // now: Unix seconds (the caller's cached clock). Inline-cheap: a hash of
    // the id, one slot, a compare; nothing when already marked this minute.
    void mark(std::string_view client_id, std::int64_t now) noexcept;

    std::size_t pending() const noexcept;
    std::size_t capacity() const noexcept { return mask_ + 1; }
    std::uint64_t dropped() const noexcept;  // marks lost to a full table, ever

    // Calls write(id, minute_start) for each pending mark; those it returns
    // true for are no longer pending.
    void take(const std::function<bool(std::string_view, std::int64_t)>& write);

    struct Slot;

  private:
    void mark_slowly(std::string_view client_id, std::int64_t minute, std::size_t home,
                     std::uint32_t tag) noexcept;
    std::unique_ptr<Slot[]> slots_;
    std::size_t mask_ = 0;
    std::size_t pending_ = 0;
    std::uint64_t dropped_ = 0;
};

enum class FlushOutcome {
    nothing,  // no marks pending
    written,  // every pending mark is in the file
    busy,     // another process holds the file's lock: marks kept
    failed,   // the file could not be written (message): marks kept
};

struct FlushReport {
    FlushOutcome outcome = FlushOutcome::nothing;
    std::size_t written = 0;
    std::string message;  // failed: what and the fix
    // say it in the log: a new failure, or the first success after one
    bool report = false;
    // What the flush did to the file: pread and pwrite calls on its pages
    // (runs of pages, coalesced), and growths of the table.
    std::size_t page_reads = 0;
    std::size_t page_writes = 0;
    std::size_t growths = 0;
};

// One per server process: the marks and their file.
class LastUseRecorder {
  public:
    LastUseRecorder(std::string path, std::int64_t interval,
                    std::size_t slots = kLastUseMarkSlots);
    ~LastUseRecorder();
    LastUseRecorder(const LastUseRecorder&) = delete;
    LastUseRecorder& operator=(const LastUseRecorder&) = delete;

    void mark(std::string_view client_id, std::int64_t now) noexcept { marks_.mark(client_id, now); }
    // Marks pending and the interval since the last attempt over.
    bool due(std::int64_t now) const noexcept;
    // The interval since the last attempt over, marks pending or not: time
    // to mark the clients of the sessions still open, then flush.
    bool interval_over(std::int64_t now) const noexcept;
    // A quarter of the table pending, or a mark dropped since the last
    // flush: a pass marking every open session writes, then marks that
    // session again, so that more sessions than the table holds all reach
    // the file (while it can be written).
    bool crowded() const noexcept {
        return marks_.pending() >= marks_.capacity() / 4 || marks_.dropped() != dropped_at_flush_;
    }
    // Never waits for another process; never throws.
    FlushReport flush(std::int64_t now) noexcept;

    const LastUseMarks& marks() const noexcept { return marks_; }
    std::int64_t interval() const noexcept { return interval_; }
    const std::string& path() const noexcept { return path_; }

  private:
    std::string path_;
    std::int64_t interval_;
    std::int64_t last_attempt_ = 0;
    std::uint64_t dropped_at_flush_ = 0;  // marks_.dropped() at the last attempt
    LastUseMarks marks_;
    std::string last_failure_;  // "" after a success
};

// id -> the latest minute any of the files records.
using LastUseMap = std::map<std::string, std::int64_t, std::less<>>;

// Reads one host's file (for keytool; any user that may read it), format 2
// or 1, and merges PATH.format1 (a format-1 file the writer moved aside
// when it made format 2) while that exists. Refuses a file that is not one
// (wrong header, a size not its geometry, not a regular file); skips
// records that are torn or carry no valid client id.
Result<LastUseMap> read_last_use(const std::string& path);
// One client's time, as read_last_use(path) gives it, without reading the
// whole file: at most two pages of a format-2 table (a format-1 file, and
// PATH.format1 while it exists, are read whole). Unset: no record.
Result<std::optional<std::int64_t>> read_last_use_of(const std::string& path,
                                                     std::string_view client_id);
// Keeps the later time per id.
void merge_last_use(LastUseMap& into, const LastUseMap& from);

}  // namespace keyauth
