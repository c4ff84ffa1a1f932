#include "index_walk.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace keyauth {

Result<IndexWalkFile> IndexWalkFile::open(const std::string& path, dev_t device, ino_t inode,
                                          std::uint64_t slots, std::uint64_t heap_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
        return file_error(errno, path);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0)
        return file_error(errno, path);
    if (st.st_dev != device || st.st_ino != inode)
        return make_error(Errc::not_found, path + " was replaced");
    IndexWalkFile file;
    file.fd_ = std::move(fd);
    file.slots_ = slots;
    file.heap_bytes_ = heap_bytes;
    return file;
}

bool IndexWalkFile::read_slots(unsigned copy, std::uint64_t first, std::size_t count,
                               std::uint64_t* out) const {
    const std::uint64_t table = index_file::kPageBytes +
                                (copy & 1) * index_file::copy_bytes(slots_) +
                                index_file::kPageBytes;
    return read_at(table + first * 8, count * 8, reinterpret_cast<unsigned char*>(out));
}

bool IndexWalkFile::read_heap(std::uint64_t offset, std::size_t bytes, unsigned char* out) const {
    return read_at(index_file::heap_offset(slots_) + offset, bytes, out);
}

// The file's size was checked against its geometry when it was mapped; a
// file cut since reads short: what it does not give cannot be trusted.
bool IndexWalkFile::read_at(std::uint64_t file_offset, std::size_t bytes,
                            unsigned char* out) const {
    while (bytes > 0) {
        const ssize_t got = pread(fd_.get(), out, bytes, static_cast<off_t>(file_offset));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        out += got;
        bytes -= static_cast<std::size_t>(got);
        file_offset += static_cast<std::uint64_t>(got);
    }
    return true;
}

void NamedRecords::reset(std::uint64_t heap_bytes) {
    heap_words_ = heap_bytes / 8;
    bits_.assign(static_cast<std::size_t>((heap_words_ + 63) / 64), 0);
    rank_before_block_.clear();
    count_ = 0;
}

bool NamedRecords::add(std::uint64_t slot_word) {
    const std::uint64_t record = index_file::record_index_of(slot_word);
    if (record == 0 || record > heap_words_)
        return false;
    const std::uint64_t word = record - 1;
    std::uint64_t& bits = bits_[static_cast<std::size_t>(word / 64)];
    const std::uint64_t bit = std::uint64_t{1} << (word % 64);
    if ((bits & bit) != 0)
        return false;
    bits |= bit;
    ++count_;
    return true;
}

void NamedRecords::rank() {
    rank_before_block_.clear();
    std::uint64_t ranked = 0;
    for (std::size_t w = 0; w < bits_.size(); ++w) {
        if (w % kWordsPerBlock == 0)
            rank_before_block_.push_back(ranked);
        ranked += static_cast<std::uint64_t>(__builtin_popcountll(bits_[w]));
    }
}

std::uint64_t NamedRecords::offset_of(std::uint64_t rank, Cursor& cursor) const {
    std::size_t block = cursor.word / kWordsPerBlock;
    while (block + 1 < rank_before_block_.size() && rank_before_block_[block + 1] <= rank)
        ++block;
    if (block * kWordsPerBlock > cursor.word) {
        cursor.word = block * kWordsPerBlock;
        cursor.rank_at_word = rank_before_block_[block];
    }
    for (;;) {
        const auto here = static_cast<std::uint64_t>(__builtin_popcountll(bits_[cursor.word]));
        if (cursor.rank_at_word + here > rank)
            break;
        cursor.rank_at_word += here;
        ++cursor.word;
    }
    std::uint64_t bits = bits_[cursor.word];
    for (std::uint64_t skip = rank - cursor.rank_at_word; skip > 0; --skip)
        bits &= bits - 1;
    return (cursor.word * 64 + static_cast<std::uint64_t>(__builtin_ctzll(bits))) * 8;
}

}  // namespace keyauth
