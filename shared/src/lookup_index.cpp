#include "lookup_index.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <sodium.h>

#include "keyauth/client_id.hpp"
#include "keyauth/files.hpp"

namespace keyauth {
namespace {

constexpr char kMagic[8] = {'k', 'e', 'y', 'a', 'u', 't', 'h', 'i'};
constexpr std::uint32_t kFormat = 1;
constexpr std::size_t kHeaderBytes = 4096;
constexpr unsigned kMinLog2Slots = 10;
constexpr unsigned kMaxLog2Slots = 32;

constexpr std::size_t round8(std::size_t n) {
    return (n + 7) & ~std::size_t{7};
}

// A slot: state (0 empty, 1 full), id length, id, then what it holds.
constexpr std::size_t kStateAt = 0;
constexpr std::size_t kLengthAt = 1;
constexpr std::size_t kIdAt = 2;
constexpr std::size_t kValueAt = kIdAt + kMaxClientIdLength;
constexpr std::size_t kIdSlotBytes = round8(kValueAt + kEncodedCredentialsSize);
constexpr std::size_t kFingerprintSlotBytes = round8(kValueAt + kFingerprintBytes);
constexpr unsigned char kFull = 1;

std::size_t file_bytes(std::uint64_t slots) {
    return kHeaderBytes + slots * (kIdSlotBytes + kFingerprintSlotBytes);
}

std::string_view slot_id(const unsigned char* slot) {
    return {reinterpret_cast<const char*>(slot + kIdAt), slot[kLengthAt]};
}

// Judges a slot's copy: empty, a well-formed full slot, or garbage.
LookupIndex::Found judge(const unsigned char* copy) {
    if (copy[kStateAt] == 0)
        return LookupIndex::Found::no;
    if (copy[kStateAt] != kFull || copy[kLengthAt] == 0 || copy[kLengthAt] > kMaxClientIdLength)
        return LookupIndex::Found::garbage;
    return LookupIndex::Found::yes;
}

}  // namespace

struct LookupIndex::Header {
    char magic[8];
    std::uint32_t format;
    std::uint32_t log2_slots;
    std::uint32_t record_bytes;
    std::uint32_t reserved;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    std::uint64_t entries;
    std::atomic<std::uint64_t> retired;
    std::uint64_t lmdb_txnid;
};
static_assert(sizeof(LookupIndex::Header) <= kHeaderBytes, "the header fits its page");

LookupIndex& LookupIndex::operator=(LookupIndex&& other) noexcept {
    if (this != &other) {
        drop_staged();
        file_ = std::move(other.file_);
        slots_ = other.slots_;
        staged_path_ = std::move(other.staged_path_);
        other.staged_path_.clear();
    }
    return *this;
}

LookupIndex::~LookupIndex() {
    drop_staged();
}

// A file create()d and never published is nobody's.
void LookupIndex::drop_staged() {
    if (!staged_path_.empty())
        unlink(staged_path_.c_str());
    staged_path_.clear();
}

LookupIndex::Header* LookupIndex::header() const {
    return reinterpret_cast<Header*>(file_.data());
}
std::uint64_t LookupIndex::mask() const {
    return slots_ - 1;
}

unsigned char* LookupIndex::id_slot(std::uint64_t index) const {
    return file_.data() + kHeaderBytes + index * kIdSlotBytes;
}

unsigned char* LookupIndex::fingerprint_slot(std::uint64_t index) const {
    return file_.data() + kHeaderBytes + slots_ * kIdSlotBytes + index * kFingerprintSlotBytes;
}

// SipHash with the file's own random key: how ids cluster is not known
// to whoever picks the ids a lookup asks for.
std::uint64_t LookupIndex::id_home(std::string_view id) const {
    std::uint64_t hash = 0;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&hash),
                     reinterpret_cast<const unsigned char*>(id.data()), id.size(),
                     header()->hash_key);
    return hash & mask();
}

// Fingerprints are SHA-256 outputs: already uniform.
std::uint64_t LookupIndex::fingerprint_home(const Fingerprint& fingerprint) const {
    std::uint64_t hash = 0;
    std::memcpy(&hash, fingerprint.bytes.data(), sizeof hash);
    return hash & mask();
}

// Every bound a reader relies on comes from here, checked once: the table
// size, and a file exactly as large as that size says.
Result<LookupIndex> LookupIndex::checked(Result<MappedFile> file, const std::string& path) {
    if (!file)
        return file.error();
    const auto* head = reinterpret_cast<const Header*>(file->data());
    if (std::memcmp(head->magic, kMagic, sizeof kMagic) != 0 || head->format != kFormat ||
        head->record_bytes != kEncodedCredentialsSize || head->log2_slots < kMinLog2Slots ||
        head->log2_slots > kMaxLog2Slots ||
        file->size() != file_bytes(std::uint64_t{1} << head->log2_slots)) {
        return make_error(Errc::registry_corrupt, path + " is not a keyauth lookup index");
    }
    LookupIndex index;
    index.slots_ = std::uint64_t{1} << head->log2_slots;
    index.file_ = std::move(*file);
    return index;
}

Result<LookupIndex> LookupIndex::open_for_reading(const std::string& path) {
    return checked(MappedFile::open(path, false, kHeaderBytes), path);
}

Result<LookupIndex> LookupIndex::open_for_writing(const std::string& path) {
    return checked(MappedFile::open(path, true, kHeaderBytes), path);
}

Result<LookupIndex> LookupIndex::create(const std::string& path, std::uint64_t clients,
                                        gid_t group) {
    unsigned log2 = kMinLog2Slots;
    // At most three quarters full: short probes, and room to grow.
    while (log2 < kMaxLog2Slots && (std::uint64_t{1} << log2) * 3 / 4 < clients + 1)
        ++log2;
    const std::string staged = path + ".new";
    unlink(staged.c_str());  // from a writer that died
    UniqueFd fd(open(staged.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid())
        return file_error(errno, staged);
    Header head{};
    std::memcpy(head.magic, kMagic, sizeof kMagic);
    head.format = kFormat;
    head.log2_slots = log2;
    head.record_bytes = kEncodedCredentialsSize;
    randombytes_buf(head.hash_key, sizeof head.hash_key);
    // Allocated, not sparse: writing into a hole of a shared mapping on a
    // full disk is SIGBUS; here it is an error, before anything changed.
    const auto bytes = static_cast<off_t>(file_bytes(std::uint64_t{1} << log2));
    if (const int err = posix_fallocate(fd.get(), 0, bytes); err != 0) {
        unlink(staged.c_str());
        return file_error(err, staged);
    }
    if (pwrite(fd.get(), &head, sizeof head, 0) != static_cast<ssize_t>(sizeof head) ||
        fchown(fd.get(), static_cast<uid_t>(-1), group) != 0 || fchmod(fd.get(), 0640) != 0) {
        const int err = errno;
        unlink(staged.c_str());
        return file_error(err, staged);
    }
    auto index = checked(MappedFile::map(fd.get(), staged, true, kHeaderBytes), staged);
    if (!index) {
        unlink(staged.c_str());
        return index.error();
    }
    index->staged_path_ = staged;
    return index;
}

LookupIndex::Found LookupIndex::find(std::string_view id, ClientCredentials& out) const {
    if (id.empty() || id.size() > kMaxClientIdLength)
        return Found::no;
    const std::uint64_t home = id_home(id);
    unsigned char copy[kIdSlotBytes];
    for (std::uint64_t probe = 0; probe < slots_; ++probe) {
        std::memcpy(copy, id_slot((home + probe) & mask()), sizeof copy);
        const Found state = judge(copy);
        if (state != Found::yes)
            return state;
        if (slot_id(copy) == id) {
            const std::string_view record(reinterpret_cast<const char*>(copy + kValueAt),
                                          kEncodedCredentialsSize);
            return decode_credentials(record, out) ? Found::yes : Found::garbage;
        }
    }
    return Found::no;
}

LookupIndex::Found LookupIndex::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                                    ClientCredentials& out) const {
    const std::uint64_t home = fingerprint_home(fingerprint);
    unsigned char copy[kFingerprintSlotBytes];
    for (std::uint64_t probe = 0; probe < slots_; ++probe) {
        std::memcpy(copy, fingerprint_slot((home + probe) & mask()), sizeof copy);
        const Found state = judge(copy);
        if (state != Found::yes)
            return state;
        if (std::memcmp(copy + kValueAt, fingerprint.bytes.data(), kFingerprintBytes) != 0)
            continue;
        const std::string_view owner = slot_id(copy);
        if (!is_valid_client_id(owner))
            return Found::garbage;
        const Found record = find(owner, out);
        if (record != Found::yes)
            return Found::garbage;  // the two tables always agree
        if (!(out.certificate_fingerprint == fingerprint))
            return Found::garbage;
        id.assign(owner);
        return Found::yes;
    }
    return Found::no;
}

bool LookupIndex::for_each(
    const std::function<void(std::string_view, const ClientCredentials&)>& visit) const {
    unsigned char copy[kIdSlotBytes];
    for (std::uint64_t i = 0; i < slots_; ++i) {
        std::memcpy(copy, id_slot(i), sizeof copy);
        const Found state = judge(copy);
        if (state == Found::no)
            continue;
        ClientCredentials credentials;
        const std::string_view record(reinterpret_cast<const char*>(copy + kValueAt),
                                      kEncodedCredentialsSize);
        if (state == Found::garbage || !decode_credentials(record, credentials))
            return false;
        visit(slot_id(copy), credentials);
    }
    return true;
}

bool LookupIndex::retired() const {
    return header()->retired.load(std::memory_order_acquire) != 0;
}

bool LookupIndex::has_room_for(std::uint64_t more) const {
    return header()->entries + more <= slots_ * 3 / 4;
}

std::uint64_t LookupIndex::size() const {
    return header()->entries;
}
std::uint64_t LookupIndex::lmdb_txnid() const {
    return header()->lmdb_txnid;
}
void LookupIndex::set_lmdb_txnid(std::uint64_t txnid) {
    header()->lmdb_txnid = txnid;
}
void LookupIndex::retire() {
    header()->retired.store(1, std::memory_order_release);
}

namespace {

// Linear probing's deletion without tombstones: slots after the hole whose
// home lies outside (hole, slot] move back into it.
template <class HomeOf>
void delete_slot(unsigned char* table, std::size_t slot_bytes, std::uint64_t mask,
                 std::uint64_t hole, HomeOf home_of) {
    std::uint64_t next = hole;
    for (;;) {
        next = (next + 1) & mask;
        unsigned char* candidate = table + next * slot_bytes;
        if (candidate[kStateAt] == 0)
            break;
        const std::uint64_t home = home_of(candidate);
        const bool stays =
            hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (stays)
            continue;
        std::memcpy(table + hole * slot_bytes, candidate, slot_bytes);
        hole = next;
    }
    std::memset(table + hole * slot_bytes, 0, slot_bytes);
}

}  // namespace

void LookupIndex::erase_fingerprint(const Fingerprint& fingerprint) {
    const std::uint64_t home = fingerprint_home(fingerprint);
    for (std::uint64_t probe = 0; probe < slots_; ++probe) {
        const std::uint64_t at = (home + probe) & mask();
        unsigned char* slot = fingerprint_slot(at);
        if (slot[kStateAt] == 0)
            return;
        if (std::memcmp(slot + kValueAt, fingerprint.bytes.data(), kFingerprintBytes) == 0) {
            delete_slot(fingerprint_slot(0), kFingerprintSlotBytes, mask(), at,
                        [this](const unsigned char* s) {
                            Fingerprint f;
                            std::memcpy(f.bytes.data(), s + kValueAt, kFingerprintBytes);
                            return fingerprint_home(f);
                        });
            return;
        }
    }
}

void LookupIndex::put(std::string_view id, const ClientCredentials& credentials) {
    const std::uint64_t home = id_home(id);
    unsigned char* slot = nullptr;
    for (std::uint64_t probe = 0; probe < slots_; ++probe) {
        unsigned char* candidate = id_slot((home + probe) & mask());
        if (candidate[kStateAt] == 0 || slot_id(candidate) == id) {
            slot = candidate;
            break;
        }
    }
    if (slot[kStateAt] == kFull) {
        ClientCredentials old;
        const std::string_view record(reinterpret_cast<const char*>(slot + kValueAt),
                                      kEncodedCredentialsSize);
        if (decode_credentials(record, old))
            erase_fingerprint(old.certificate_fingerprint);
    } else {
        slot[kStateAt] = kFull;
        slot[kLengthAt] = static_cast<unsigned char>(id.size());
        std::memcpy(slot + kIdAt, id.data(), id.size());
        ++header()->entries;
    }
    const auto encoded = encode_credentials(credentials);
    std::memcpy(slot + kValueAt, encoded.data(), encoded.size());

    const Fingerprint& fingerprint = credentials.certificate_fingerprint;
    const std::uint64_t fingerprint_at = fingerprint_home(fingerprint);
    for (std::uint64_t probe = 0; probe < slots_; ++probe) {
        unsigned char* candidate = fingerprint_slot((fingerprint_at + probe) & mask());
        if (candidate[kStateAt] == 0 ||
            std::memcmp(candidate + kValueAt, fingerprint.bytes.data(), kFingerprintBytes) == 0) {
            candidate[kStateAt] = kFull;
            candidate[kLengthAt] = static_cast<unsigned char>(id.size());
            std::memset(candidate + kIdAt, 0, kMaxClientIdLength);
            std::memcpy(candidate + kIdAt, id.data(), id.size());
            std::memcpy(candidate + kValueAt, fingerprint.bytes.data(), kFingerprintBytes);
            return;
        }
    }
}

void LookupIndex::erase(std::string_view id) {
    const std::uint64_t home = id_home(id);
    for (std::uint64_t probe = 0; probe < slots_; ++probe) {
        const std::uint64_t at = (home + probe) & mask();
        unsigned char* slot = id_slot(at);
        if (slot[kStateAt] == 0)
            return;
        if (slot_id(slot) != id)
            continue;
        ClientCredentials old;
        const std::string_view record(reinterpret_cast<const char*>(slot + kValueAt),
                                      kEncodedCredentialsSize);
        if (decode_credentials(record, old))
            erase_fingerprint(old.certificate_fingerprint);
        delete_slot(id_slot(0), kIdSlotBytes, mask(), at,
                    [this](const unsigned char* s) { return id_home(slot_id(s)); });
        --header()->entries;
        return;
    }
}

Status LookupIndex::sync() const {
    return file_.sync(file_.size());
}

Status LookupIndex::sync_header() const {
    return file_.sync(kHeaderBytes);
}

Status LookupIndex::publish(const std::string& path) {
    if (Status s = sync(); !s)
        return s;
    if (rename(staged_path_.c_str(), path.c_str()) != 0)
        return file_error(errno, path);
    staged_path_.clear();
    const auto slash = path.rfind('/');
    return fsync_directory(slash == std::string::npos ? "." : path.substr(0, slash));
}

}  // namespace keyauth
