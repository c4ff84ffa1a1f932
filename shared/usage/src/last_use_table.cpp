#include "last_use_table.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "keyauth/client_id.hpp"

namespace keyauth::last_use_table {

std::string errno_text(int error) {
    return std::strerror(error);
}

namespace {

template <typename Io, typename Byte>
bool transfer_all(Io io, int fd, Byte* p, std::size_t size, off_t offset) {
    while (size > 0) {
        const ssize_t n = io(fd, p, size, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;  // a read past the end: the file was cut
        if (n <= 0)
            return false;
        p += n;
        size -= static_cast<std::size_t>(n);
        offset += n;
    }
    return true;
}

}  // namespace

bool read_all(int fd, void* buffer, std::size_t size, off_t offset) {
    return transfer_all(::pread, fd, static_cast<char*>(buffer), size, offset);
}

bool write_all(int fd, const void* buffer, std::size_t size, off_t offset) {
    return transfer_all(::pwrite, fd, static_cast<const char*>(buffer), size, offset);
}

namespace {

constexpr char kMagic[16] = {'k', 'e', 'y', 'a', 'u', 't', 'h', ' ',
                             'l', 'a', 's', 't', 'u', 's', 'e', '2'};
// 9999-12-31T23:59:59Z: a time no calendar holds is no record.
constexpr std::uint32_t kLatestMinute = 253402300799 / 60;
// Pages a flush holds at once (1 MiB): its memory stays bounded whatever
// the table's size.
constexpr std::uint32_t kWindowPages = 256;
// Pages a flush reads through rather than split a read in two.
constexpr std::uint32_t kReadGap = 2;
// Old pages a growth reads at once.
constexpr std::uint32_t kGrowChunk = 64;

off_t page_offset(std::uint32_t page) {
    return static_cast<off_t>(page + 1) * static_cast<off_t>(kPageBytes);
}

std::uint64_t tag_of(const unsigned char* key, const char* id, std::size_t length) {
    std::uint64_t h = 0;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&h),
                     reinterpret_cast<const unsigned char*>(id), length, key);
    return h | 1;
}

// Not a MAC (the file's owner can write anything): a test that a slot's
// minute was written with its tag, not torn from another write.
std::uint32_t check_of(std::uint64_t tag, std::uint32_t minute) {
    std::uint64_t h =
        (tag ^ (std::uint64_t{minute} * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    return static_cast<std::uint32_t>(h >> 32) ^ 0x6b61u;
}

std::uint32_t home_of(std::uint64_t tag, unsigned log2_pages) {
    return static_cast<std::uint32_t>(tag >> 16) & ((std::uint32_t{1} << log2_pages) - 1);
}

Slot* slots_of(unsigned char* page) {
    return reinterpret_cast<Slot*>(page);
}

std::size_t id_length(const Slot& s) {
    return strnlen(s.id, sizeof s.id);
}

// The slot's id if the slot is whole and names a client, else empty.
std::string_view valid_slot(const Slot& s, const unsigned char* key) {
    if (s.tag == 0 || s.check != check_of(s.tag, s.minute) || s.minute > kLatestMinute)
        return {};
    const std::string_view id(s.id, id_length(s));
    if (!check_client_id(id) || tag_of(key, id.data(), id.size()) != s.tag)
        return {};
    return id;
}

// Where the mark's id is in the page, or the first empty slot (-1 - index),
// or kFull. Slots fill in order and are never freed: the first empty ends
// the search.
constexpr long kFull = -1 - static_cast<long>(kSlotsPerPage);

long find_in(const unsigned char* page, const Mark& m) {
    const Slot* slots = reinterpret_cast<const Slot*>(page);
    for (std::size_t i = 0; i < kSlotsPerPage; ++i) {
        const Slot& s = slots[i];
        if (s.tag == 0)
            return -1 - static_cast<long>(i);
        if (s.tag == m.tag && id_length(s) == m.length && std::memcmp(s.id, m.id, m.length) == 0)
            return static_cast<long>(i);
    }
    return kFull;
}

// Puts one slot into its new pair. The slots homed at the pair's first page
// are placed before those of its second, each in its home while there is
// room, else in the buddy: at most 102 slots, so a slot sits in its buddy
// only when its home is full, as lookups assume.
void place(unsigned char* pages[2], std::size_t fill[2], const Slot& s, int side) {
    if (fill[side] == kSlotsPerPage)
        side = 1 - side;
    if (fill[side] == kSlotsPerPage)
        return;  // cannot happen (102 slots at most): never past the page
    slots_of(pages[side])[fill[side]++] = s;
}

}  // namespace

off_t file_size_for(unsigned log2_pages) {
    return (off_t{1} + (off_t{1} << log2_pages)) * static_cast<off_t>(kPageBytes);
}

bool is_table(const void* head, std::size_t size) {
    return size >= sizeof kMagic && std::memcmp(head, kMagic, sizeof kMagic) == 0;
}

std::string geometry_error(const TableHeader& h, off_t file_size) {
    if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.format != kFormat)
        return "not a keyauth last-use file";
    if (h.slot_bytes != kSlotBytes || h.page_bytes != kPageBytes || h.log2_pages < 1 ||
        h.log2_pages > kMaxLog2)
        return "not a keyauth last-use file (a geometry this version does not read)";
    if (file_size != file_size_for(h.log2_pages))
        return "a last-use file of the wrong size (" + std::to_string(file_size) + " bytes, " +
               std::to_string(file_size_for(h.log2_pages)) + " expected); cut or damaged";
    return {};
}

bool init_table(int fd, unsigned log2_pages, const unsigned char* key, std::int64_t now,
                TableHeader& h, std::uint64_t used) {
    h = TableHeader{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.format = kFormat;
    h.slot_bytes = kSlotBytes;
    h.page_bytes = kPageBytes;
    h.log2_pages = log2_pages;
    std::memcpy(h.key, key, sizeof h.key);
    h.created = now;
    h.used = used;
    // The size first, the header last: a file cut short by a crash has no
    // header and is refused, never read as a table of the wrong size.
    return ::fchmod(fd, 0640) == 0 && ::ftruncate(fd, file_size_for(log2_pages)) == 0 &&
           write_all(fd, &h, sizeof h, 0);
}

Result<UniqueFd> create_table(const std::string& temp, unsigned log2_pages,
                              const unsigned char* key, std::int64_t now, std::uint64_t used) {
    ::unlink(temp.c_str());  // left by a process killed while making it
    UniqueFd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!fd.valid())
        return make_error(Errc::io_error, temp + ": cannot create (" + errno_text(errno) + ")");
    TableHeader h{};
    // Locked before anyone can see it: whoever renames it keeps it.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 ||
        !init_table(fd.get(), log2_pages, key, now, h, used)) {
        const int error = errno;
        ::unlink(temp.c_str());
        return make_error(Errc::io_error, temp + ": cannot write (" + errno_text(error) + ")");
    }
    return fd;
}

Status write_marks(int fd, TableHeader& header, std::vector<Mark>& marks, bool* full,
                   IoCounts& counts) {
    *full = false;
    std::vector<Mark*> todo;
    todo.reserve(marks.size());
    for (Mark& m : marks) {
        if (m.done)
            continue;
        m.tag = tag_of(header.key, m.id, m.length);
        m.home = home_of(m.tag, header.log2_pages);
        todo.push_back(&m);
    }
    // Sorted by page: each page read and written once, in runs.
    std::sort(todo.begin(), todo.end(),
              [](const Mark* a, const Mark* b) { return a->home < b->home; });
    std::vector<unsigned char> buffer;
    std::vector<char> loaded, dirty;
    std::uint64_t inserted = 0;
    auto fail = [](const char* what) {
        return make_error(Errc::io_error, std::string(what) + " (" + errno_text(errno) + ")");
    };
    for (std::size_t i = 0; i < todo.size();) {
        // A window of pages: its marks' homes and their buddies.
        const std::uint32_t lo = todo[i]->home & ~std::uint32_t{1};
        std::size_t j = i;
        while (j < todo.size() && todo[j]->home - lo < kWindowPages)
            ++j;
        const std::uint32_t span = (todo[j - 1]->home | 1) - lo + 1;
        buffer.resize(std::size_t{span} * kPageBytes);
        loaded.assign(span, 0);
        dirty.assign(span, 0);
        auto page = [&](std::uint32_t p) {
            return buffer.data() + std::size_t{p - lo} * kPageBytes;
        };
        auto load = [&](std::uint32_t first, std::uint32_t last) {
            ++counts.reads;
            if (!read_all(fd, page(first), std::size_t{last - first + 1} * kPageBytes,
                          page_offset(first)))
                return false;
            std::fill(loaded.begin() + (first - lo), loaded.begin() + (last - lo) + 1, 1);
            return true;
        };
        // The homes, in runs (a small gap read through).
        for (std::size_t k = i; k < j;) {
            const std::uint32_t first = todo[k]->home;
            std::uint32_t last = first;
            while (k < j && todo[k]->home <= last + kReadGap + 1)
                last = todo[k++]->home;
            if (!load(first, last))
                return fail("cannot read the last-use file");
        }
        for (std::size_t k = i; k < j; ++k) {
            Mark& m = *todo[k];
            std::uint32_t p = m.home;
            long at = find_in(page(p), m);
            if (at == kFull) {
                p = m.home ^ 1;  // the buddy, read only when the home is full
                if (!loaded[p - lo] && !load(p, p))
                    return fail("cannot read the last-use file");
                at = find_in(page(p), m);
                if (at == kFull) {
                    *full = true;  // stays pending: the table grows
                    continue;
                }
            }
            Slot& s = slots_of(page(p))[at >= 0 ? at : -1 - at];
            if (at >= 0) {
                if (s.check == check_of(s.tag, s.minute) && s.minute >= m.minute) {
                    m.done = true;  // the file knows a later use already
                    continue;
                }
            } else {
                std::memset(&s, 0, sizeof s);
                s.tag = m.tag;
                std::memcpy(s.id, m.id, m.length);
                ++inserted;
            }
            s.minute = m.minute;
            s.check = check_of(s.tag, s.minute);
            dirty[p - lo] = 1;
            m.done = m.changed = true;
        }
        // Only the pages changed, in runs; a short gap of pages read
        // (current: the lock is ours) is written through, unchanged, rather
        // than split a write in two.
        for (std::uint32_t p = 0; p < span;) {
            if (!dirty[p]) {
                ++p;
                continue;
            }
            std::uint32_t end = p + 1;
            for (std::uint32_t next = end; next < span && next <= end + kReadGap && loaded[next];
                 ++next) {
                if (dirty[next])
                    end = next + 1;
            }
            ++counts.writes;
            if (!write_all(fd, page(lo + p), std::size_t{end - p} * kPageBytes,
                           page_offset(lo + p)))
                return fail("cannot write last-use records");
            p = end;
        }
        i = j;
    }
    if (inserted != 0) {
        header.used += inserted;
        (void)write_all(fd, &header.used, sizeof header.used, offsetof(TableHeader, used));
    }
    return {};
}

Result<UniqueFd> grow(int fd, const std::string& path, TableHeader& header, std::int64_t now,
                      IoCounts& counts) {
    const unsigned old_log2 = header.log2_pages;
    if (old_log2 >= kMaxLog2)
        return make_error(Errc::registry_full, "the last-use file is full (" +
                                                   std::to_string(kMaxLog2) +
                                                   " doublings); move it away (it is re-created)");
    const std::string temp = path + ".grow";
    Result<UniqueFd> grown = create_table(temp, old_log2 + 1, header.key, now);
    if (!grown)
        return grown.error();
    const std::uint32_t old_pages = std::uint32_t{1} << old_log2;
    std::vector<unsigned char> in(std::size_t{kGrowChunk} * kPageBytes);
    std::vector<unsigned char> low(in.size()), high(in.size());
    std::uint64_t used = 0;
    auto fail = [&](const char* what) {
        const int error = errno;
        ::unlink(temp.c_str());
        return make_error(Errc::io_error, std::string(what) + " (" + errno_text(error) + ")");
    };
    for (std::uint32_t first = 0; first < old_pages; first += kGrowChunk) {
        const std::uint32_t n = std::min(kGrowChunk, old_pages - first);
        if (!read_all(fd, in.data(), std::size_t{n} * kPageBytes, page_offset(first)))
            return fail("cannot read the last-use file to grow it");
        std::fill(low.begin(), low.end(), 0);
        std::fill(high.begin(), high.end(), 0);
        // Old pair (2m, 2m+1) splits into new pairs (2m, 2m+1) and
        // (2m+P, 2m+1+P): at most 102 slots go to either, so all fit.
        for (std::uint32_t pair = 0; pair < n; pair += 2) {
            std::vector<Slot> homed[4];  // new page: 2m, 2m+1, 2m+P, 2m+1+P
            for (std::uint32_t q = 0; q < 2; ++q) {
                const Slot* slots = slots_of(in.data() + std::size_t{pair + q} * kPageBytes);
                for (std::size_t s = 0; s < kSlotsPerPage; ++s) {
                    if (valid_slot(slots[s], header.key).empty())
                        continue;  // empty, torn or forged: left behind
                    const std::uint32_t home = home_of(slots[s].tag, old_log2 + 1);
                    homed[(home >= old_pages ? 2 : 0) + (home & 1)].push_back(slots[s]);
                    ++used;
                }
            }
            for (int half = 0; half < 2; ++half) {
                unsigned char* out =
                    (half == 0 ? low : high).data() + std::size_t{pair} * kPageBytes;
                unsigned char* pages[2] = {out, out + kPageBytes};
                std::size_t fill[2] = {0, 0};
                std::vector<Slot>* mine = &homed[half * 2];
                for (int side = 0; side < 2; ++side) {
                    for (const Slot& s : mine[side])
                        place(pages, fill, s, side);
                }
            }
        }
        ++counts.writes;
        if (!write_all(grown->get(), low.data(), std::size_t{n} * kPageBytes, page_offset(first)) ||
            !write_all(grown->get(), high.data(), std::size_t{n} * kPageBytes,
                       page_offset(first + old_pages)))
            return fail("cannot write the grown last-use file");
    }
    TableHeader next = header;
    next.log2_pages = old_log2 + 1;
    next.used = used;
    if (!write_all(grown->get(), &next, sizeof next, 0))
        return fail("cannot write the grown last-use file");
    // On disk before its name is: a crash leaves the old table or the new.
    if (::fdatasync(grown->get()) != 0)
        return fail("cannot sync the grown last-use file");
    if (::rename(temp.c_str(), path.c_str()) != 0)
        return fail("cannot rename the grown last-use file into place");
    ++counts.grown;
    header = next;
    return grown;
}

Status lookup_table(int fd, off_t file_size, const std::string& path, std::string_view id,
                    std::optional<std::int64_t>& time) {
    TableHeader h{};
    if (!read_all(fd, &h, sizeof h, 0))
        return make_error(Errc::io_error, path + ": cannot read (" + errno_text(errno) + ")");
    if (std::string bad = geometry_error(h, file_size); !bad.empty())
        return make_error(Errc::registry_corrupt, path + ": " + bad);
    if (id.empty() || id.size() > kIdBytes)
        return {};
    const std::uint64_t tag = tag_of(h.key, id.data(), id.size());
    const std::uint32_t home = home_of(tag, h.log2_pages);
    unsigned char page[kPageBytes];
    for (const std::uint32_t p : {home, home ^ 1}) {
        if (!read_all(fd, page, sizeof page, page_offset(p)))
            return make_error(Errc::io_error, path + ": cannot read (" + errno_text(errno) + ")");
        bool room = false;
        for (std::size_t i = 0; i < kSlotsPerPage; ++i) {
            const Slot& s = slots_of(page)[i];
            room = room || s.tag == 0;
            if (s.tag == tag && valid_slot(s, h.key) == id) {
                const std::int64_t t = std::int64_t{s.minute} * kLastUseResolution;
                time = std::max(time.value_or(t), t);
            }
        }
        if (room)
            break;  // a home with room: the id was never put in its buddy
    }
    return {};
}

Status read_table(int fd, off_t file_size, const std::string& path, LastUseMap& into) {
    TableHeader h{};
    if (!read_all(fd, &h, sizeof h, 0))
        return make_error(Errc::io_error, path + ": cannot read (" + errno_text(errno) + ")");
    if (std::string bad = geometry_error(h, file_size); !bad.empty())
        return make_error(Errc::registry_corrupt, path + ": " + bad);
    const std::uint32_t pages = std::uint32_t{1} << h.log2_pages;
    std::vector<unsigned char> chunk(std::size_t{kWindowPages} * kPageBytes);
    // Collected, then sorted into the map: slots come in hash order, and a
    // tree built in order costs a third of one built at random.
    std::vector<std::pair<std::string, std::int64_t>> found;
    found.reserve(std::min<std::uint64_t>(h.used, std::uint64_t{pages} * kSlotsPerPage));
    for (std::uint32_t first = 0; first < pages; first += kWindowPages) {
        const std::uint32_t n = std::min(kWindowPages, pages - first);
        if (!read_all(fd, chunk.data(), std::size_t{n} * kPageBytes, page_offset(first)))
            return make_error(Errc::io_error,
                              path + ": cannot read (" + errno_text(errno) + "); cut while read?");
        for (std::uint32_t p = 0; p < n; ++p) {
            const Slot* slots = slots_of(chunk.data() + std::size_t{p} * kPageBytes);
            for (std::size_t s = 0; s < kSlotsPerPage; ++s) {
                const std::string_view id = valid_slot(slots[s], h.key);
                if (id.empty())
                    continue;
                found.emplace_back(std::string(id),
                                   std::int64_t{slots[s].minute} * kLastUseResolution);
            }
        }
    }
    std::sort(found.begin(), found.end());
    for (auto& [id, time] : found) {
        // after the last one inserted (sorted), or where it already is
        auto it = into.lower_bound(id);
        if (it != into.end() && it->first == id)
            it->second = std::max(it->second, time);
        else
            into.emplace_hint(it, std::move(id), time);
    }
    return {};
}

}  // namespace keyauth::last_use_table
