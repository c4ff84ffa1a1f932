// lookup.idx's layout, shared by its reader (the servers) and its writer.
//
// The file holds two copies of the same two hash tables (client id ->
// record, certificate fingerprint -> record) over one heap of records both
// copies share. commit.seq's counter V names the copy readers use (V & 1),
// and that copy's header names V too. The writer only ever changes the
// other copy, and appends the records it needs after every record either
// copy may name (a record is never rewritten once a copy names it), then
// publishes the copy with one store of the counter: a reader never waits
// for a writer, and a writer stopped anywhere leaves the published copy and
// its records untouched. See docs/ARCHITECTURE.md, "Readers that never
// wait".
//
// Every bound a reader relies on (table size, heap size, file size) is
// checked once at open; slots and records are read and written as relaxed
// atomic 8-byte words, and every record offset and length is checked
// against the heap before it is read, so a reader that raced the writer
// reads garbage the counter then rejects, never a torn word or an offset
// outside the file.
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

// 3: keyauth 0.4, two copies of slots with records inline; 2: keyauth 0.3,
// records of format 1; 1: keyauth 0.2
inline constexpr std::uint32_t kFormat = 4;
inline constexpr std::size_t kPageBytes = 4096;
inline constexpr std::uint64_t kMinSlots = 1024;
inline constexpr std::uint64_t kMaxSlots = std::uint64_t{1} << 32;
inline constexpr std::size_t kHashKeyBytes = 16;  // crypto_shorthash_KEYBYTES

constexpr std::size_t round_up(std::size_t n, std::size_t to) {
    return (n + to - 1) / to * to;
}

// A slot is one 8-byte word: 0 when empty, else a tag (24 more bits of the
// key's hash, so that most probes past other keys read no record) and the
// record's index in the heap (its offset / 8, plus one: never 0).
inline constexpr unsigned kRecordIndexBits = 40;
inline constexpr std::uint64_t kRecordIndexMask = (std::uint64_t{1} << kRecordIndexBits) - 1;
inline constexpr std::uint64_t kTagMask = (std::uint64_t{1} << 24) - 1;
inline constexpr std::uint64_t kMaxHeapBytes = kRecordIndexMask * 8;

// A record: id length, flags, the id, the credential fields (as LMDB's
// records hold them: client_record.hpp), then, only while a rotation's grace
// is pending, the previous credentials. Zero-padded to 8 bytes.
inline constexpr std::size_t kRecordHeadBytes = 2;
inline constexpr std::size_t kMaxRecordBytes = round_up(
    kRecordHeadBytes + kMaxClientIdLength + kCredentialFieldsSize + kPreviousCredentialsSize, 8);

constexpr std::size_t record_bytes(std::size_t id_length, bool grace) {
    return round_up(kRecordHeadBytes + id_length + kCredentialFieldsSize +
                        (grace ? kPreviousCredentialsSize : 0),
                    8);
}
inline std::size_t record_bytes(std::string_view id, const ClientCredentials& credentials) {
    return record_bytes(id.size(), credentials.previous.present());
}

// Writes the record into out (kMaxRecordBytes); returns its length.
std::size_t encode_record(std::string_view id, const ClientCredentials& credentials,
                          unsigned char* out);
// How long the record starting with this word claims to be (0: it cannot
// be a record).
std::size_t record_length(const unsigned char* first_word);
// Strict: any byte that could not have been written by encode_record
// refuses the whole record. id points into bytes. checked_id: an id
// is_valid_client_id already accepted (the one looked up), or empty; a
// stored id equal to it is that check's already, any other is checked here.
bool decode_record(const unsigned char* bytes, std::size_t length, std::string_view& id,
                   ClientCredentials& out, std::string_view checked_id = {});

// The file's first page: what both copies share.
struct FileHeader {
    char magic[8];
    std::uint32_t format;
    std::uint32_t reserved;
    std::uint64_t slots;       // per table
    std::uint64_t heap_bytes;  // the heap: after both copies, to the end of the file
    unsigned char hash_key[kHashKeyBytes];
    std::atomic<std::uint64_t> retired;  // a newer file has replaced this one
};

// Each copy's first page. version: the counter value that publishes this
// copy, 0 while the writer changes it. lmdb_txnid: the LMDB transaction its
// tables hold, 0 while they change. heap_end: every record the copy names
// lies below it.
struct CopyHeader {
    std::atomic<std::uint64_t> version;
    std::atomic<std::uint64_t> lmdb_txnid;
    std::atomic<std::uint64_t> entries;
    std::atomic<std::uint64_t> heap_end;
};

static_assert(sizeof(FileHeader) <= kPageBytes && sizeof(CopyHeader) <= kPageBytes);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared between processes: must be lock-free");

// In 64 bits whatever size_t is: a header's sizes are checked against the
// file before anything is read, and must not wrap on the way.
inline std::uint64_t copy_bytes(std::uint64_t slots) {
    return (kPageBytes + slots * 2 * 8 + kPageBytes - 1) / kPageBytes * kPageBytes;
}
inline std::uint64_t heap_offset(std::uint64_t slots) {
    return kPageBytes + 2 * copy_bytes(slots);
}
inline std::uint64_t file_bytes(std::uint64_t slots, std::uint64_t heap_bytes) {
    return heap_offset(slots) + heap_bytes;
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

// One slot of a table, as a relaxed atomic word: a shared mapping another
// process writes (the reader may see the writer's half-made copy, never a
// torn word).
inline std::uint64_t load_slot(const std::uint64_t* table, std::uint64_t slot) {
    return __atomic_load_n(table + slot, __ATOMIC_RELAXED);
}
inline void store_slot(std::uint64_t* table, std::uint64_t slot, std::uint64_t word) {
    __atomic_store_n(table + slot, word, __ATOMIC_RELAXED);
}

// A new file's first page: magic, geometry and a fresh random hash key.
void write_new_header(FileHeader& head, std::uint64_t slots, std::uint64_t heap_bytes);

// Where a key starts probing, and the tag its slots carry.
struct Probe {
    std::uint64_t home;
    std::uint64_t tag;
};

inline std::uint64_t slot_word(std::uint64_t tag, std::uint64_t record_index) {
    return tag << kRecordIndexBits | record_index;
}
inline std::uint64_t tag_of(std::uint64_t word) {
    return word >> kRecordIndexBits;
}
inline std::uint64_t record_index_of(std::uint64_t word) {
    return word & kRecordIndexMask;
}

// One mapped lookup.idx with its geometry checked; the copies' tables and
// the heap.
class IndexFile {
  public:
    static Result<IndexFile> open(const std::string& path, bool writable);
    // A file already open (the writer's new file).
    static Result<IndexFile> map(int fd, const std::string& path);

    bool mapped() const { return file_.mapped(); }
    std::uint64_t slots() const { return slots_; }
    std::uint64_t heap_bytes() const { return heap_bytes_; }
    std::uint64_t next_slot(std::uint64_t slot) const { return slot + 1 == slots_ ? 0 : slot + 1; }
    FileHeader* header() const { return reinterpret_cast<FileHeader*>(file_.data()); }
    CopyHeader* copy_header(unsigned copy) const {
        return reinterpret_cast<CopyHeader*>(copy_base(copy));
    }
    std::uint64_t* id_table(unsigned copy) const {
        return reinterpret_cast<std::uint64_t*>(copy_base(copy) + kPageBytes);
    }
    std::uint64_t* fingerprint_table(unsigned copy) const { return id_table(copy) + slots_; }
    unsigned char* copy_base(unsigned copy) const {
        return file_.data() + kPageBytes + (copy & 1) * copy_bytes(slots_);
    }
    unsigned char* heap() const { return file_.data() + heap_offset(slots_); }

    // SipHash with the file's own random key: how keys cluster is not known
    // to whoever picks the ids a lookup asks for, nor to whoever put
    // fingerprints no certificate has into the registry of record (a
    // fingerprint's own bytes, uniform for a real certificate, would let
    // them make one long cluster).
    Probe id_probe(std::string_view id) const;
    Probe fingerprint_probe(const Fingerprint& fingerprint) const;

    // Whether a slot word names a record inside the heap: checked for every
    // full slot a probe passes, so that a table of nonsense is garbage
    // whatever its tags.
    bool names_heap(std::uint64_t word) const {
        const std::uint64_t index = record_index_of(word);
        return index != 0 && index <= heap_bytes_ / 8;
    }
    // Reads the record a slot word names into out (kMaxRecordBytes, 8-byte
    // aligned) and decodes it (checked_id: decode_record's); false if the
    // word or what it names cannot be a record of this heap.
    bool read_record(std::uint64_t word, unsigned char* out, std::string_view& id,
                     ClientCredentials& credentials, std::string_view checked_id = {}) const;

    const MappedFile& file() const { return file_; }

  private:
    static Result<IndexFile> checked(Result<MappedFile> file, const std::string& path);
    Probe keyed_probe(const unsigned char* key, std::size_t bytes) const;
    std::uint64_t home_of(std::uint64_t hash) const {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(hash) * slots_) >> 64);
    }
    MappedFile file_;
    std::uint64_t slots_ = 0;
    std::uint64_t heap_bytes_ = 0;
};

}  // namespace keyauth::index_file
