// A walk's reads of lookup.idx (keytool's and the console's listings, never
// a server's lookup). They go through a descriptor of the mapped file with
// pread, never through the map: a walk reads the whole table and heap, and
// each page of a map it touched would stay in the walker's RSS (~1.4 GB at
// 10^7 clients, docs/BENCHMARKS.md, "a member of the group lists through
// lookup.idx in ranges"). Each record read is checked as the map's reads
// are (inside the heap, record_length, decode_record); which copy is read,
// and whether what was read may be trusted, is still the commit sequence's
// to say (RegistryReader::Impl::read_index).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "index_file.hpp"
#include "keyauth/client_record.hpp"
#include "keyauth/files.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

class IndexWalkFile {
  public:
    // The file at path, if it is the file (device, inode) of that geometry
    // a reader maps; else not_found (replaced meanwhile: reopen).
    static Result<IndexWalkFile> open(const std::string& path, dev_t device, ino_t inode,
                                      std::uint64_t slots, std::uint64_t heap_bytes);

    std::uint64_t slots() const { return slots_; }
    std::uint64_t heap_bytes() const { return heap_bytes_; }
    // count slot words of copy's id table from slot first (first + count
    // <= slots); false if the file could not give them all.
    bool read_slots(unsigned copy, std::uint64_t first, std::size_t count,
                    std::uint64_t* out) const;
    // Bytes [offset, offset + bytes) of the heap (inside it).
    bool read_heap(std::uint64_t offset, std::size_t bytes, unsigned char* out) const;

  private:
    bool read_at(std::uint64_t file_offset, std::size_t bytes, unsigned char* out) const;
    UniqueFd fd_;
    std::uint64_t slots_ = 0;
    std::uint64_t heap_bytes_ = 0;
};

// The records one copy's id table names, as one bit per 8-byte word of the
// heap (a record starts on a word): ~2 bytes a client, against ~220 for a
// record held. Ranked in heap order, the order a walk reads them in.
class NamedRecords {
  public:
    void reset(std::uint64_t heap_bytes);
    // False if the slot word names no record of the heap, or one another
    // slot named already (no writer makes two slots of a table share one).
    bool add(std::uint64_t slot_word);
    std::uint64_t count() const { return count_; }
    // After the last add: the rank counts offset_of needs.
    void rank();
    // Where the record of that rank (0: the first in the heap) starts, for
    // ranks asked in increasing order through one Cursor.
    struct Cursor {
        std::size_t word = 0;
        std::uint64_t rank_at_word = 0;
    };
    std::uint64_t offset_of(std::uint64_t rank, Cursor& cursor) const;

  private:
    static constexpr std::size_t kWordsPerBlock = 8;
    std::vector<std::uint64_t> bits_;
    std::vector<std::uint64_t> rank_before_block_;
    std::uint64_t count_ = 0;
    std::uint64_t heap_words_ = 0;
};

// Reads the records at the heap offsets next(offset) yields (increasing,
// each inside the heap), records near each other in one pread, and calls
// visit(id, credentials) for each; false if one is not a record (garbage:
// the caller's counter check decides).
class RecordReads {
  public:
    explicit RecordReads(const IndexWalkFile& file) : file_(file) {}

    template <class Next, class Visit>
    bool read(Next&& next, Visit&& visit) {
        pending_.clear();
        std::uint64_t offset = 0;
        while (next(offset)) {
            if (!pending_.empty() &&
                (offset - pending_.back() > kJoinGapBytes ||
                 offset + index_file::kMaxRecordBytes - pending_.front() > kSpanBytes)) {
                if (!read_pending(visit))
                    return false;
            }
            pending_.push_back(offset);
        }
        return read_pending(visit);
    }

  private:
    // A pread costs about as much as copying a few KiB: records closer
    // than this are read with what lies between them.
    static constexpr std::uint64_t kJoinGapBytes = 2048;
    static constexpr std::size_t kSpanBytes = 64 * 1024;

    template <class Visit>
    bool read_pending(Visit& visit) {
        if (pending_.empty())
            return true;
        const std::uint64_t start = pending_.front();
        const std::uint64_t end = std::min<std::uint64_t>(
            pending_.back() + index_file::kMaxRecordBytes, file_.heap_bytes());
        span_.resize(static_cast<std::size_t>(end - start));
        if (!file_.read_heap(start, span_.size(), span_.data()))
            return false;
        for (const std::uint64_t offset : pending_) {
            const unsigned char* at = span_.data() + (offset - start);
            const std::size_t length = index_file::record_length(at);
            std::string_view id;
            ClientCredentials credentials;
            if (length == 0 || length > end - offset ||
                !index_file::decode_record(at, length, id, credentials))
                return false;
            visit(id, credentials);
        }
        pending_.clear();
        return true;
    }

    const IndexWalkFile& file_;
    std::vector<std::uint64_t> pending_;
    std::vector<unsigned char> span_;
};

}  // namespace keyauth
