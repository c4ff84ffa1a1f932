#include "keyauth/last_use.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "keyauth/client_id.hpp"
#include "keyauth/duration.hpp"
#include "keyauth/files.hpp"
#include "last_use_table.hpp"

namespace keyauth {
namespace {

// Format 1, read only now (a file not yet migrated, or PATH.format1; the
// writer is last_use_table's format 2): a 64-byte header, then 80-byte
// records appended in the order ids were first seen: the id (NUL-padded),
// the minute (Unix seconds) and a check over both, so a torn or damaged
// record is skipped, not misread.
constexpr char kMagic[16] = {'k', 'e', 'y', 'a', 'u', 't', 'h', ' ',
                             'l', 'a', 's', 't', '-', 'u', 's', 'e'};
constexpr std::uint32_t kFormat = 1;
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kRecordSize = 80;
constexpr std::size_t kIdField = 64;
// A million clients and some: a larger format-1 file is refused, not read.
constexpr off_t kMaxFileSize = kHeaderSize + off_t{kRecordSize} * (std::size_t{1} << 22);
// Neighbouring slots a mark may take before it is dropped.
constexpr std::size_t kProbe = 4;

struct Header {
    char magic[16];
    std::uint32_t format;
    std::uint32_t record_size;
    char zero[40];
};
static_assert(sizeof(Header) == kHeaderSize);

struct Record {
    char id[kIdField];
    std::int64_t time;
    std::uint64_t check;
};
static_assert(sizeof(Record) == kRecordSize);

// FNV-1a: not a MAC (the file's owner can write anything), only a test that
// the record is whole.
std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t h = 14695981039346656037ull) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

// The marks' hash and compare, a word at a time: they run on every
// admission (fnv1a's byte loop cost twice as much).
inline std::uint64_t load_word(const char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

inline std::uint64_t id_hash(const char* p, std::size_t n) {
    std::uint64_t h = n * 0x9e3779b97f4a7c15ull;
    for (; n >= 8; p += 8, n -= 8)
        h = (h ^ load_word(p)) * 0xff51afd7ed558ccdull;
    std::uint64_t tail = 0;
    while (n != 0)
        tail = (tail << 8) | static_cast<unsigned char>(p[--n]);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    // the products' high bits into the low ones the slot index takes
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

inline bool same_id(const char* a, const char* b, std::size_t n) {
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        if (load_word(a) != load_word(b))
            return false;
    }
    for (; n != 0; --n) {
        if (*a++ != *b++)
            return false;
    }
    return true;
}

std::uint64_t record_check(const Record& r) {
    return fnv1a(&r.time, sizeof r.time, fnv1a(r.id, sizeof r.id)) ^ 0x6b61u;
}

std::string_view record_id(const Record& r) {
    return std::string_view(r.id, strnlen(r.id, sizeof r.id));
}

// A whole record naming a valid client id, or an empty view.
// 9999-12-31T23:59:59Z: the file is written by another user, and a time no
// calendar (nor a browser's Date) holds is no record.
constexpr std::int64_t kLatestTime = 253402300799;

std::string_view valid_record(const Record& r) {
    if (r.check != record_check(r) || r.time < 0 || r.time > kLatestTime)
        return {};
    const std::string_view id = record_id(r);
    if (!check_client_id(id))
        return {};
    return id;
}

bool header_ok(const Header& h) {
    return std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 && h.format == kFormat &&
           h.record_size == kRecordSize;
}

using last_use_table::errno_text;
using last_use_table::read_all;

}  // namespace

Result<std::int64_t> parse_last_use_interval(std::string_view text) {
    Result<std::int64_t> seconds = parse_duration(text);
    if (!seconds || *seconds < kLastUseMinInterval || *seconds > kLastUseDefaultInterval) {
        return make_error(Errc::invalid_argument,
                          "the last-use interval must be 1s to 60s, not '" +
                              std::string(text.substr(0, 32)) + "'");
    }
    return seconds;
}

// ---------------------------------------------------------------- marks

struct LastUseMarks::Slot {
    std::int64_t minute = -1;  // the minute last marked (Unix seconds / 60)
    std::uint32_t tag = 0;     // the id's hash, high bits: most misses end here
    std::uint8_t length = 0;   // 0: never used
    bool pending = false;      // marked, not yet in the file
    char id[kIdField];
};

LastUseMarks::LastUseMarks(std::size_t slots) {
    std::size_t size = 16;
    while (size < slots)
        size <<= 1;
    slots_.reset(new Slot[size]);
    mask_ = size - 1;
}

LastUseMarks::~LastUseMarks() = default;

// Almost every admission: the client's home slot, already marked this minute.
void LastUseMarks::mark(std::string_view id, std::int64_t now) noexcept {
    if (id.empty() || id.size() > kIdField)
        return;
    const std::int64_t minute = now / kLastUseResolution;
    const std::uint64_t hash = id_hash(id.data(), id.size());
    const auto tag = static_cast<std::uint32_t>(hash >> 32);
    Slot& home = slots_[static_cast<std::size_t>(hash) & mask_];
    if (home.minute == minute && home.tag == tag && home.length == id.size() &&
        same_id(home.id, id.data(), id.size()))
        return;
    mark_slowly(id, minute, static_cast<std::size_t>(hash), tag);
}

void LastUseMarks::mark_slowly(std::string_view id, std::int64_t minute, std::size_t home,
                               std::uint32_t tag) noexcept {
    Slot* free = nullptr;
    for (std::size_t i = 0; i < kProbe; ++i) {
        Slot& s = slots_[(home + i) & mask_];
        if (s.tag == tag && s.length == id.size() && same_id(s.id, id.data(), id.size())) {
            if (s.minute != minute) {
                // a later minute only: a clock stepped back keeps the later stamp
                s.minute = std::max(s.minute, minute);
                if (!s.pending) {
                    s.pending = true;
                    ++pending_;
                }
            }
            return;
        }
        if (free == nullptr && !s.pending)
            free = &s;  // empty, or another id already written: reusable
    }
    if (free == nullptr) {
        ++dropped_;
        return;
    }
    std::memcpy(free->id, id.data(), id.size());
    free->length = static_cast<std::uint8_t>(id.size());
    free->tag = tag;
    free->minute = minute;
    free->pending = true;
    ++pending_;
}

std::size_t LastUseMarks::pending() const noexcept {
    return pending_;
}

std::uint64_t LastUseMarks::dropped() const noexcept {
    return dropped_;
}

void LastUseMarks::take(const std::function<bool(std::string_view, std::int64_t)>& write) {
    for (std::size_t i = 0; i <= mask_ && pending_ != 0; ++i) {
        Slot& s = slots_[i];
        if (!s.pending)
            continue;
        if (write(std::string_view(s.id, s.length), s.minute * kLastUseResolution)) {
            s.pending = false;
            --pending_;
        }
    }
}

// --------------------------------------------------------------- the file

namespace {

namespace table = last_use_table;

// A table open and locked, its geometry checked against its size.
struct LockedTable {
    UniqueFd fd;
    table::TableHeader header{};
};

enum class Opened { ok, busy, failed };

// The first bytes of a file: a format-2 header's worth.
struct Head {
    unsigned char bytes[sizeof(table::TableHeader)] = {};
    std::size_t size = 0;
};

bool read_head(int fd, off_t file_size, Head& head) {
    head.size =
        static_cast<std::size_t>(std::min<off_t>(file_size, static_cast<off_t>(sizeof head.bytes)));
    return read_all(fd, head.bytes, head.size, 0);
}

bool is_format1(const Head& head) {
    Header h{};
    if (head.size < sizeof h)
        return false;
    std::memcpy(&h, head.bytes, sizeof h);
    return header_ok(h);
}

void new_key(unsigned char* key) {
    if (sodium_init() < 0)
        std::memset(key, 0, 16);  // cannot happen once the servers start; a fixed key still works
    else
        randombytes_buf(key, 16);
}

// A new empty table named path, unless another process made one first: made
// under a name of this process's own and linked, which never replaces.
Status create_at(const std::string& path, std::int64_t now) {
    unsigned char key[16];
    new_key(key);
    const std::string temp = path + ".new." + std::to_string(::getpid());
    Result<UniqueFd> made = table::create_table(temp, table::kFirstLog2, key, now);
    if (!made)
        return made.error();
    const bool linked = ::fdatasync(made->get()) == 0 &&
                        (::link(temp.c_str(), path.c_str()) == 0 || errno == EEXIST);
    const int error = errno;
    ::unlink(temp.c_str());
    if (!linked)
        return make_error(Errc::io_error,
                          "cannot create the last-use file (" + errno_text(error) +
                              "); the directory must be writable by the "
                              "server's user, or the file exist and be owned by it");
    return {};
}

// Format 1 found at path (under its lock): its name moves to path.format1,
// which readers keep merging until the operator removes it, and a new
// table replaces it at path in one rename.
Status migrate_format1(const std::string& path, std::int64_t now) {
    const std::string aside = path + ".format1";
    if (::link(path.c_str(), aside.c_str()) != 0) {
        const int error = errno;
        return make_error(Errc::io_error, "a format-1 last-use file cannot be moved aside to " +
                                              aside + " (" + errno_text(error) +
                                              "); remove that file once keytool has read it");
    }
    unsigned char key[16];
    new_key(key);
    const std::string temp = path + ".new." + std::to_string(::getpid());
    Result<UniqueFd> made = table::create_table(temp, table::kFirstLog2, key, now);
    if (!made || ::fdatasync(made->get()) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        ::unlink(aside.c_str());  // path still names format 1: tried again next time
        return made ? make_error(Errc::io_error, "cannot replace the format-1 last-use file (" +
                                                     errno_text(error) + ")")
                    : made.error();
    }
    return {};
}

// Opens path's table, locked, after today's checks; creates it, migrates a
// format-1 file, and follows a rename by another process (a growth) made
// between the open and the lock. Never waits.
Opened open_table(const std::string& path, std::int64_t now, LockedTable& out,
                  std::string& message) {
    for (int attempt = 0; attempt < 4; ++attempt) {
        // O_NONBLOCK: a FIFO put in its place must not stop the server.
        UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        if (!fd.valid() && errno == ENOENT) {
            if (Status made = create_at(path, now); !made) {
                message = made.error().message;
                return Opened::failed;
            }
            continue;
        }
        if (!fd.valid()) {
            message = "cannot open the last-use file (" + errno_text(errno) +
                      "); the directory must be writable by the server's user, or the file "
                      "exist and be owned by it";
            return Opened::failed;
        }
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK || errno == EINTR)
                return Opened::busy;  // another process: next interval
            message = "cannot lock the last-use file (" + errno_text(errno) + ")";
            return Opened::failed;
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            message = "cannot stat the last-use file (" + errno_text(errno) + ")";
            return Opened::failed;
        }
        if (!S_ISREG(st.st_mode)) {
            message = "not a regular file; refusing to write last-use records to it";
            return Opened::failed;
        }
        if (st.st_uid != ::geteuid()) {
            message = "owned by uid " + std::to_string(st.st_uid) +
                      ", not by the server's user; refusing to write to it";
            return Opened::failed;
        }
        if ((st.st_mode & 0022) != 0) {
            message = "writable by group or others; make it 0640 (or remove it)";
            return Opened::failed;
        }
        // Replaced (grown, migrated) between our open and our lock: the
        // inode we hold is no longer the file.
        struct stat named {};
        if (::lstat(path.c_str(), &named) != 0 || named.st_dev != st.st_dev ||
            named.st_ino != st.st_ino)
            continue;
        if (st.st_size == 0) {
            // Made empty by its owner, or created by an older keyauth that
            // was killed before its header: ours to start, under the lock.
            unsigned char key[16];
            new_key(key);
            table::TableHeader h{};
            if (!table::init_table(fd.get(), table::kFirstLog2, key, now, h)) {
                message = "cannot write the last-use file (" + errno_text(errno) + ")";
                return Opened::failed;
            }
            out.fd = std::move(fd);
            out.header = h;
            return Opened::ok;
        }
        Head head;
        if (!read_head(fd.get(), st.st_size, head)) {
            message = "cannot read the last-use file (" + errno_text(errno) + ")";
            return Opened::failed;
        }
        if (is_format1(head)) {
            if (Status moved = migrate_format1(path, now); !moved) {
                message = moved.error().message;
                return Opened::failed;
            }
            continue;
        }
        table::TableHeader h{};
        std::memcpy(&h, head.bytes, std::min(head.size, sizeof h));
        if (std::string bad = table::geometry_error(h, st.st_size); !bad.empty()) {
            message = bad + "; move it away (it is re-created)";
            return Opened::failed;
        }
        out.fd = std::move(fd);
        out.header = h;
        return Opened::ok;
    }
    return Opened::busy;  // replaced under us again and again: next interval
}

}  // namespace

LastUseRecorder::LastUseRecorder(std::string path, std::int64_t interval, std::size_t slots)
    : path_(std::move(path)),
      interval_(std::clamp(interval, kLastUseMinInterval, kLastUseDefaultInterval)),
      marks_(slots) {}

LastUseRecorder::~LastUseRecorder() = default;

bool LastUseRecorder::due(std::int64_t now) const noexcept {
    return marks_.pending() != 0 && interval_over(now);
}

bool LastUseRecorder::interval_over(std::int64_t now) const noexcept {
    return now - last_attempt_ >= interval_ || now < last_attempt_;
}

FlushReport LastUseRecorder::flush(std::int64_t now) noexcept {
    FlushReport report;
    last_attempt_ = now;
    dropped_at_flush_ = marks_.dropped();
    if (marks_.pending() == 0)
        return report;
    auto fail = [&](std::string message) {
        report.outcome = FlushOutcome::failed;
        report.message = path_ + ": " + message;
        report.report = report.message != last_failure_;
        last_failure_ = report.message;
        return report;
    };
    try {
        // The pending marks, copied (at most the table's slots): written
        // sorted by page, then released in a second pass over the same
        // slots in the same order (nothing marks in between).
        std::vector<table::Mark> marks;
        marks.reserve(marks_.pending());
        marks_.take([&](std::string_view id, std::int64_t time) {
            table::Mark m{};
            std::memcpy(m.id, id.data(), id.size());
            m.length = static_cast<std::uint8_t>(id.size());
            // A time no calendar holds is no record: taken, never written.
            m.done = time < 0 || time > kLatestTime;
            m.minute = m.done ? 0 : static_cast<std::uint32_t>(time / kLastUseResolution);
            marks.push_back(m);
            return false;
        });
        LockedTable file;
        std::string message;
        switch (open_table(path_, now, file, message)) {
        case Opened::busy:
            report.outcome = FlushOutcome::busy;
            return report;
        case Opened::failed:
            return fail(message);
        case Opened::ok:
            break;
        }
        table::IoCounts counts;
        Status written;
        for (;;) {
            bool full = false;
            written = table::write_marks(file.fd.get(), file.header, marks, &full, counts);
            if (!written || !full)
                break;
            // A pair with no room: the table doubles, and the marks left
            // are written into it in this same flush.
            Result<UniqueFd> grown = table::grow(file.fd.get(), path_, file.header, now, counts);
            if (!grown) {
                written = grown.error();
                break;
            }
            file.fd = std::move(*grown);
        }
        report.page_reads = counts.reads;
        report.page_writes = counts.writes;
        report.growths = counts.grown;
        std::size_t i = 0;
        marks_.take([&](std::string_view id, std::int64_t) {
            const table::Mark* m = i < marks.size() ? &marks[i] : nullptr;
            ++i;
            const bool done = m != nullptr && m->done && std::string_view(m->id, m->length) == id;
            if (done && m->changed)
                ++report.written;
            return done;
        });
        if (!written)
            return fail(written.error().message + "; the marks are kept and tried again");
        report.outcome = FlushOutcome::written;
        report.report = !last_failure_.empty();  // say that it works again
        last_failure_.clear();
        return report;
    } catch (...) {
        return fail("out of memory");
    }
}

// ------------------------------------------------------------ the reader

namespace {

// Format 1 (keyauth before the table): read from a file not yet migrated,
// or moved aside to PATH.format1.
Status read_format1(int fd, const std::string& path, LastUseMap& uses) {
    std::vector<Record> chunk(1024);
    off_t at = kHeaderSize;
    for (;;) {
        const ssize_t n = ::pread(fd, chunk.data(), chunk.size() * kRecordSize, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return make_error(Errc::io_error, path + ": cannot read (" + errno_text(errno) + ")");
        const std::size_t records = static_cast<std::size_t>(n) / kRecordSize;
        for (std::size_t i = 0; i < records; ++i) {
            const std::string_view id = valid_record(chunk[i]);
            if (id.empty())
                continue;
            auto [it, added] = uses.emplace(std::string(id), chunk[i].time);
            if (!added)
                it->second = std::max(it->second, chunk[i].time);
        }
        if (records < chunk.size())
            break;  // the end (a torn last record is left out)
        at += static_cast<off_t>(records * kRecordSize);
        if (at > kMaxFileSize)
            break;
    }
    return {};
}

// A file to read: opened without following a link or waiting on a FIFO, a
// regular file, its first bytes read.
struct FileToRead {
    UniqueFd fd;
    struct stat st {};
    Head head;
};

Status open_to_read(const std::string& path, FileToRead& file) {
    file.fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!file.fd.valid()) {
        const int error = errno;
        return make_error(error == ENOENT ? Errc::not_found : Errc::io_error,
                          path + ": cannot open (" + errno_text(error) + ")");
    }
    if (::fstat(file.fd.get(), &file.st) != 0 || !S_ISREG(file.st.st_mode))
        return make_error(Errc::invalid_argument, path + ": not a regular file");
    if (!read_head(file.fd.get(), file.st.st_size, file.head))
        return make_error(Errc::io_error, path + ": cannot read (" + errno_text(errno) + ")");
    return {};
}

// Every record of the file, either format.
Status read_whole(const FileToRead& file, const std::string& path, LastUseMap& uses) {
    if (is_format1(file.head)) {
        if (file.st.st_size > kMaxFileSize)
            return make_error(Errc::registry_corrupt, path + ": larger than any last-use file");
        return read_format1(file.fd.get(), path, uses);
    }
    if (table::is_table(file.head.bytes, file.head.size))
        return table::read_table(file.fd.get(), file.st.st_size, path, uses);
    return make_error(Errc::registry_corrupt, path + ": not a keyauth last-use file");
}

Status read_one(const std::string& path, LastUseMap& uses) {
    FileToRead file;
    if (Status opened = open_to_read(path, file); !opened)
        return opened;
    return read_whole(file, path, uses);
}

}  // namespace

Result<LastUseMap> read_last_use(const std::string& path) {
    LastUseMap uses;
    if (Status read = read_one(path, uses); !read)
        return read.error();
    // Left by the migration to format 2: merged until the operator removes it.
    if (Status aside = read_one(path + ".format1", uses); !aside && aside.code() != Errc::not_found)
        return aside.error();
    return uses;
}

Result<std::optional<std::int64_t>> read_last_use_of(const std::string& path,
                                                     std::string_view client_id) {
    std::optional<std::int64_t> time;
    FileToRead file;
    if (Status opened = open_to_read(path, file); !opened)
        return opened.error();
    LastUseMap whole;  // format 1 has no index: read whole, as read_last_use does
    if (table::is_table(file.head.bytes, file.head.size)) {
        if (Status s = table::lookup_table(file.fd.get(), file.st.st_size, path, client_id, time);
            !s)
            return s.error();
    } else if (Status s = read_whole(file, path, whole); !s) {
        return s.error();
    }
    if (Status aside = read_one(path + ".format1", whole);
        !aside && aside.code() != Errc::not_found)
        return aside.error();
    if (const auto it = whole.find(client_id); it != whole.end())
        time = std::max(time.value_or(it->second), it->second);
    return time;
}

void merge_last_use(LastUseMap& into, const LastUseMap& from) {
    for (const auto& [id, time] : from) {
        auto [it, added] = into.emplace(id, time);
        if (!added)
            it->second = std::max(it->second, time);
    }
}

}  // namespace keyauth
