#include "keyauth/last_use.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "keyauth/client_id.hpp"
#include "keyauth/duration.hpp"

namespace keyauth {
namespace {

// The file: a 64-byte header, then 80-byte records appended in the order
// ids were first seen: the id (NUL-padded), the minute (Unix seconds) and
// a check over both, so a torn or damaged record is skipped, not misread.
// Host byte order: a file belongs to the host that writes it.
constexpr char kMagic[16] = {'k', 'e', 'y', 'a', 'u', 't', 'h', ' ',
                             'l', 'a', 's', 't', '-', 'u', 's', 'e'};
constexpr std::uint32_t kFormat = 1;
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kRecordSize = 80;
constexpr std::size_t kIdField = 64;
// A million clients and some: a larger file is refused, not read.
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

Header make_header() {
    Header h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.format = kFormat;
    h.record_size = kRecordSize;
    return h;
}

bool header_ok(const Header& h) {
    return std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 && h.format == kFormat &&
           h.record_size == kRecordSize;
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0)
            ::close(fd_);  // also releases the flock
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

// The whole buffer, through pread or pwrite, or false (errno says why; a
// short read is the end of the file).
template <typename Io, typename Byte>
bool transfer_all(Io io, int fd, Byte* p, std::size_t size, off_t offset) {
    while (size > 0) {
        const ssize_t n = io(fd, p, size, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= static_cast<std::size_t>(n);
        offset += n;
    }
    return true;
}

bool read_all(int fd, void* buffer, std::size_t size, off_t offset) {
    return transfer_all(::pread, fd, static_cast<char*>(buffer), size, offset);
}

bool write_all(int fd, const void* buffer, std::size_t size, off_t offset) {
    return transfer_all(::pwrite, fd, static_cast<const char*>(buffer), size, offset);
}

std::string errno_text(int error) {
    return std::strerror(error);
}

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

// Where each id's record is in the file this process last wrote, so a
// flush reads only what other processes appended since.
struct LastUseRecorder::FileIndex {
    dev_t device = 0;
    ino_t inode = 0;
    off_t indexed_to = 0;  // records before this offset are in `at`
    std::unordered_map<std::string, off_t> at;
};

LastUseRecorder::LastUseRecorder(std::string path, std::int64_t interval, std::size_t slots)
    : path_(std::move(path)),
      interval_(std::clamp(interval, kLastUseMinInterval, kLastUseDefaultInterval)),
      marks_(slots),
      index_(std::make_unique<FileIndex>()) {}

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
        // O_NONBLOCK: a FIFO put in its place must not stop the server.
        Fd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0640));
        if (fd.get() < 0) {
            const int error = errno;
            return fail("cannot open the last-use file (" + errno_text(error) +
                        "); the directory must be writable by the server's user, or the "
                        "file exist and be owned by it");
        }
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK || errno == EINTR) {
                report.outcome = FlushOutcome::busy;  // another process: next interval
                return report;
            }
            const int error = errno;
            return fail("cannot lock the last-use file (" + errno_text(error) + ")");
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0)
            return fail("cannot stat the last-use file (" + errno_text(errno) + ")");
        if (!S_ISREG(st.st_mode))
            return fail("not a regular file; refusing to write last-use records to it");
        if (st.st_uid != ::geteuid())
            return fail("owned by uid " + std::to_string(st.st_uid) +
                        ", not by the server's user; refusing to write to it");
        if ((st.st_mode & 0022) != 0)
            return fail("writable by group or others; make it 0640 (or remove it)");
        if (st.st_size == 0) {
            const Header header = make_header();
            if (::fchmod(fd.get(), 0640) != 0 || !write_all(fd.get(), &header, sizeof header, 0))
                return fail("cannot write the header (" + errno_text(errno) + ")");
            st.st_size = kHeaderSize;
        } else {
            Header header{};
            if (st.st_size < static_cast<off_t>(kHeaderSize) ||
                !read_all(fd.get(), &header, sizeof header, 0) || !header_ok(header))
                return fail("not a keyauth last-use file; move it away (it is re-created)");
        }
        if (st.st_size > kMaxFileSize)
            return fail("the file is over its size limit; move it away (it is re-created)");

        FileIndex& index = *index_;
        if (index.device != st.st_dev || index.inode != st.st_ino ||
            index.indexed_to > st.st_size) {
            index.at.clear();
            index.device = st.st_dev;
            index.inode = st.st_ino;
            index.indexed_to = kHeaderSize;
        }
        // Records other processes appended since this one last looked.
        const off_t whole = kHeaderSize + (st.st_size - static_cast<off_t>(kHeaderSize)) /
                                              static_cast<off_t>(kRecordSize) *
                                              static_cast<off_t>(kRecordSize);
        std::vector<Record> chunk(1024);
        while (index.indexed_to < whole) {
            const std::size_t n = std::min<std::size_t>(
                chunk.size(), static_cast<std::size_t>(whole - index.indexed_to) / kRecordSize);
            if (!read_all(fd.get(), chunk.data(), n * kRecordSize, index.indexed_to))
                return fail("cannot read the last-use file (" + errno_text(errno) + ")");
            for (std::size_t i = 0; i < n; ++i) {
                const std::string_view id = valid_record(chunk[i]);
                if (!id.empty())
                    index.at.emplace(std::string(id), index.indexed_to + off_t(i * kRecordSize));
            }
            index.indexed_to += static_cast<off_t>(n * kRecordSize);
        }
        // A torn last record (a power loss while appending) is written over.
        off_t end = whole;
        int write_errno = 0;
        marks_.take([&](std::string_view id, std::int64_t time) {
            if (write_errno != 0)
                return false;
            Record r{};
            std::memcpy(r.id, id.data(), id.size());
            const auto found = index.at.find(std::string(id));
            if (found != index.at.end()) {
                Record stored{};
                if (read_all(fd.get(), &stored, sizeof stored, found->second) &&
                    valid_record(stored) == id && stored.time >= time)
                    return true;  // the file knows a later use already
                r.time = time;
                r.check = record_check(r);
                if (!write_all(fd.get(), &r.time, sizeof r.time + sizeof r.check,
                               found->second + off_t(kIdField))) {
                    write_errno = errno != 0 ? errno : EIO;
                    return false;
                }
            } else {
                if (end + off_t(kRecordSize) > kMaxFileSize) {
                    write_errno = EFBIG;
                    return false;
                }
                r.time = time;
                r.check = record_check(r);
                if (!write_all(fd.get(), &r, sizeof r, end)) {
                    write_errno = errno != 0 ? errno : EIO;
                    // a part written is torn: the next append writes over it
                    return false;
                }
                index.at.emplace(std::string(id), end);
                end += off_t(kRecordSize);
                index.indexed_to = end;
            }
            ++report.written;
            return true;
        });
        if (write_errno != 0)
            return fail("cannot write last-use records (" + errno_text(write_errno) +
                        "); the marks are kept and tried again");
        report.outcome = FlushOutcome::written;
        report.report = !last_failure_.empty();  // say that it works again
        last_failure_.clear();
        return report;
    } catch (...) {
        return fail("out of memory");
    }
}

// ------------------------------------------------------------ the reader

Result<LastUseMap> read_last_use(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) {
        const int error = errno;
        return make_error(error == ENOENT ? Errc::not_found : Errc::io_error,
                          path + ": cannot open (" + errno_text(error) + ")");
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return make_error(Errc::invalid_argument, path + ": not a regular file");
    if (st.st_size > kMaxFileSize)
        return make_error(Errc::registry_corrupt, path + ": larger than any last-use file");
    Header header{};
    if (st.st_size < static_cast<off_t>(kHeaderSize) ||
        !read_all(fd.get(), &header, sizeof header, 0) || !header_ok(header))
        return make_error(Errc::registry_corrupt, path + ": not a keyauth last-use file");
    LastUseMap uses;
    std::vector<Record> chunk(1024);
    off_t at = kHeaderSize;
    for (;;) {
        const ssize_t n = ::pread(fd.get(), chunk.data(), chunk.size() * kRecordSize, at);
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
    return uses;
}

void merge_last_use(LastUseMap& into, const LastUseMap& from) {
    for (const auto& [id, time] : from) {
        auto [it, added] = into.emplace(id, time);
        if (!added)
            it->second = std::max(it->second, time);
    }
}

}  // namespace keyauth
