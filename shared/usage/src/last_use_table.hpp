// The last-use file, format 2: an on-disk hash table of the clients' last
// minutes, so that a server process keeps no per-id state (no index of the
// file in memory) and a flush touches only the pages its marks hash to.
//
//   page 0          the header (TableHeader), the rest zero
//   pages 1..2^k    the table: 51 slots of 80 bytes a page (16 bytes spare)
//
// A slot holds the id itself (readers need ids, and read_last_use has no
// registry to join tags with), its keyed hash (tag), the minute and a check.
// An id's home page comes from its tag; when the home page is full it goes
// to the home's buddy (page ^ 1), never further: a lookup reads at most two
// pages. Slots are never freed, and an id goes to its buddy only when its
// home is full, so an id is absent when its home has an empty slot and it
// is not there. A pair with no room left grows the table (doubles it); the
// ids of one old pair split into two new pairs, so a growth always fits.
//
// Host byte order: a file belongs to the host that writes it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/files.hpp"
#include "keyauth/last_use.hpp"

namespace keyauth::last_use_table {

inline constexpr std::size_t kPageBytes = 4096;
inline constexpr std::size_t kSlotBytes = 80;
inline constexpr std::size_t kSlotsPerPage = kPageBytes / kSlotBytes;  // 51
inline constexpr std::size_t kIdBytes = 64;                            // kMaxClientIdLength
inline constexpr std::uint32_t kFormat = 2;
inline constexpr unsigned kFirstLog2 = 4;  // 16 pages, 68 KiB: 800 clients
// 2^17 pages (512 MiB, 6.6 million slots): a larger geometry is refused.
inline constexpr unsigned kMaxLog2 = 17;

struct Slot {
    std::uint64_t tag;     // SipHash(key, id) | 1; 0: empty
    std::uint32_t minute;  // Unix minutes: through 9999-12-31 in 32 bits
    std::uint32_t check;   // of tag and minute: a torn slot reads as absent
    char id[kIdBytes];     // NUL-padded
};
static_assert(sizeof(Slot) == kSlotBytes);

// Format 1's header began with a 16-byte magic, then its format number and
// record size: this magic differs, and so do the numbers at those offsets
// (2, 80 where format 1 wants 1, 80), so a format-1 reader or writer (an
// older server still running during an upgrade) refuses the file.
struct TableHeader {
    char magic[16];
    std::uint32_t format;
    std::uint32_t slot_bytes;
    std::uint32_t page_bytes;
    std::uint32_t log2_pages;
    unsigned char key[16];  // the file's own SipHash key (crypto_shorthash)
    std::int64_t created;   // Unix seconds
    std::uint64_t used;     // slots in use: a hint, for the operator
    char zero[64];
};
static_assert(sizeof(TableHeader) == 128);

// A pending mark, as the flush takes it from LastUseMarks.
struct Mark {
    char id[kIdBytes];
    std::uint8_t length;
    std::uint32_t minute;
    std::uint64_t tag = 0;
    std::uint32_t home = 0;
    bool done = false;     // in the file (written now or already later)
    bool changed = false;  // written by this flush
};

// What a flush did to the file, for the tests and the benchmarks.
struct IoCounts {
    std::size_t reads = 0;   // pread calls on table pages
    std::size_t writes = 0;  // pwrite calls on table pages
    std::size_t grown = 0;   // growths
};

// The whole buffer at offset, through pread or pwrite, or false (errno says
// why; EIO for a read past the end: the file was cut).
bool read_all(int fd, void* buffer, std::size_t size, off_t offset);
bool write_all(int fd, const void* buffer, std::size_t size, off_t offset);
std::string errno_text(int error);

off_t file_size_for(unsigned log2_pages);

// Whether the first bytes of a file are a format-2 header; "" or what is
// wrong with the header against the file's size (both come from another
// user: a geometry that does not match the size is refused).
bool is_table(const void* head, std::size_t size);
std::string geometry_error(const TableHeader& header, off_t file_size);

// Makes the file at fd (empty, locked) an empty table; h is its header.
bool init_table(int fd, unsigned log2_pages, const unsigned char* key, std::int64_t now,
                TableHeader& h, std::uint64_t used = 0);

// A new table file at temp (O_EXCL; an existing one is removed first, its
// name being this process's own), complete and synced, still locked.
Result<UniqueFd> create_table(const std::string& temp, unsigned log2_pages,
                              const unsigned char* key, std::int64_t now, std::uint64_t used = 0);

// Writes the marks not yet done into the table at fd (locked by the
// caller). Marks whose pair is full stay !done, and *full says so.
Status write_marks(int fd, TableHeader& header, std::vector<Mark>& marks, bool* full,
                   IoCounts& counts);

// Builds the table at twice the size at path + ".grow" (under the caller's
// lock on path's file), syncs it and renames it over path; returns it,
// locked, and its header.
Result<UniqueFd> grow(int fd, const std::string& path, TableHeader& header, std::int64_t now,
                      IoCounts& counts);

// One id's minute start, reading its home page and, when that is full, its
// buddy: where the writer puts it (a slot its owner moved elsewhere is not
// looked for). Unset: no record.
Status lookup_table(int fd, off_t file_size, const std::string& path, std::string_view id,
                    std::optional<std::int64_t>& time);

// Every valid slot (whole, its tag that of its id, a valid client id).
Status read_table(int fd, off_t file_size, const std::string& path, LastUseMap& into);

}  // namespace keyauth::last_use_table
