// lookup.idx's layout, shared by its reader (the servers) and its writer.
//
// The file holds two copies of the same two hash tables (client id ->
// record, certificate fingerprint -> client id). commit.seq's counter V
// names the copy readers use (V & 1), and that copy's header names V too.
// The writer only ever changes the other copy, then publishes it with one
// store of the counter: a reader never waits for a writer, and a writer
// stopped anywhere leaves the published copy untouched. See
// docs/ARCHITECTURE.md, "Readers that never wait".
//
// Every bound a reader relies on (table size, file size) is checked once at
// open; slots are read and written as relaxed atomic 8-byte words, so a
// reader that raced the writer reads garbage the counter then rejects, never
// a torn word or an offset outside the file.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "keyauth/client_id.hpp"
#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"
#include "mapped_file.hpp"

namespace keyauth::index_file {

inline constexpr std::uint32_t kFormat = 3;  // 2: keyauth 0.3, records of format 1; 1: keyauth 0.2
inline constexpr std::size_t kPageBytes = 4096;
inline constexpr unsigned kMinLog2Slots = 10;
inline constexpr unsigned kMaxLog2Slots = 32;
inline constexpr std::size_t kHashKeyBytes = 16;  // crypto_shorthash_KEYBYTES

constexpr std::size_t round_up(std::size_t n, std::size_t to) {
    return (n + to - 1) / to * to;
}

// A slot: state (0 empty, 1 full), id length, id, then what it holds.
inline constexpr std::size_t kStateAt = 0;
inline constexpr std::size_t kLengthAt = 1;
inline constexpr std::size_t kIdAt = 2;
inline constexpr std::size_t kValueAt = kIdAt + kMaxClientIdLength;
inline constexpr std::size_t kIdSlotBytes = round_up(kValueAt + kEncodedCredentialsSize, 8);
inline constexpr std::size_t kFingerprintSlotBytes = round_up(kValueAt + kFingerprintBytes, 8);
inline constexpr unsigned char kFull = 1;

// The file's first page: what both copies share.
struct FileHeader {
    char magic[8];
    std::uint32_t format;
    std::uint32_t log2_slots;
    std::uint32_t record_bytes;
    std::uint32_t reserved;
    unsigned char hash_key[kHashKeyBytes];
    std::atomic<std::uint64_t> retired;  // a newer file has replaced this one
};

// Each copy's first page. version: the counter value that publishes this
// copy, 0 while the writer changes it. lmdb_txnid: the LMDB transaction its
// tables hold, 0 while they change.
struct CopyHeader {
    std::atomic<std::uint64_t> version;
    std::atomic<std::uint64_t> lmdb_txnid;
    std::atomic<std::uint64_t> entries;
};

static_assert(sizeof(FileHeader) <= kPageBytes && sizeof(CopyHeader) <= kPageBytes);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared between processes: must be lock-free");
static_assert(kIdSlotBytes % 8 == 0 && kFingerprintSlotBytes % 8 == 0);

inline std::size_t copy_bytes(std::uint64_t slots) {
    return round_up(kPageBytes + slots * (kIdSlotBytes + kFingerprintSlotBytes), kPageBytes);
}
inline std::size_t file_bytes(std::uint64_t slots) {
    return kPageBytes + 2 * copy_bytes(slots);
}

// Relaxed word copies: a shared mapping another process writes.
inline void load_words(unsigned char* to, const unsigned char* from, std::size_t bytes) {
    for (std::size_t at = 0; at < bytes; at += 8) {
        const std::uint64_t word =
            __atomic_load_n(reinterpret_cast<const std::uint64_t*>(from + at), __ATOMIC_RELAXED);
        __builtin_memcpy(to + at, &word, 8);
    }
}
inline void store_words(unsigned char* to, const unsigned char* from, std::size_t bytes) {
    for (std::size_t at = 0; at < bytes; at += 8) {
        std::uint64_t word;
        __builtin_memcpy(&word, from + at, 8);
        __atomic_store_n(reinterpret_cast<std::uint64_t*>(to + at), word, __ATOMIC_RELAXED);
    }
}

// A new file's first page: magic, geometry and a fresh random hash key.
void write_new_header(FileHeader& head, unsigned log2_slots);

inline std::string_view slot_id(const unsigned char* slot) {
    return {reinterpret_cast<const char*>(slot + kIdAt), slot[kLengthAt]};
}

// One mapped lookup.idx with its geometry checked; the copies' tables.
class IndexFile {
  public:
    static Result<IndexFile> open(const std::string& path, bool writable);
    // A file already open (the writer's new file).
    static Result<IndexFile> map(int fd, const std::string& path);

    bool mapped() const { return file_.mapped(); }
    std::uint64_t slots() const { return slots_; }
    std::uint64_t mask() const { return slots_ - 1; }
    FileHeader* header() const { return reinterpret_cast<FileHeader*>(file_.data()); }
    CopyHeader* copy_header(unsigned copy) const {
        return reinterpret_cast<CopyHeader*>(copy_base(copy));
    }
    unsigned char* id_slot(unsigned copy, std::uint64_t index) const {
        return copy_base(copy) + kPageBytes + index * kIdSlotBytes;
    }
    unsigned char* fingerprint_slot(unsigned copy, std::uint64_t index) const {
        return copy_base(copy) + kPageBytes + slots_ * kIdSlotBytes +
               index * kFingerprintSlotBytes;
    }
    unsigned char* copy_base(unsigned copy) const {
        return file_.data() + kPageBytes + (copy & 1) * copy_bytes(slots_);
    }

    // SipHash with the file's own random key: how ids cluster is not known
    // to whoever picks the ids a lookup asks for.
    std::uint64_t id_home(std::string_view id) const;
    // Fingerprints are SHA-256 outputs: already uniform.
    std::uint64_t fingerprint_home(const Fingerprint& fingerprint) const;

    const MappedFile& file() const { return file_; }

  private:
    static Result<IndexFile> checked(Result<MappedFile> file, const std::string& path);
    MappedFile file_;
    std::uint64_t slots_ = 0;
};

}  // namespace keyauth::index_file
