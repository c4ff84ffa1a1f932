#include "index_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "keyauth/files.hpp"

namespace keyauth {

using namespace index_file;

namespace {

// Linear probing's deletion without tombstones: slots after the hole whose
// home lies outside (hole, slot] move back into it.
template <class SlotAt, class HomeOf>
void delete_slot(std::size_t slot_bytes, std::uint64_t mask, std::uint64_t hole, SlotAt slot_at,
                 HomeOf home_of) {
    std::uint64_t next = hole;
    for (;;) {
        next = (next + 1) & mask;
        unsigned char* candidate = slot_at(next);
        if (candidate[kStateAt] == 0)
            break;
        const std::uint64_t home = home_of(candidate);
        const bool stays =
            hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (stays)
            continue;
        store_words(slot_at(hole), candidate, slot_bytes);
        hole = next;
    }
    alignas(8) static const unsigned char empty[kIdSlotBytes] = {};
    store_words(slot_at(hole), empty, slot_bytes);
}

std::string_view record_of(const unsigned char* slot) {
    return {reinterpret_cast<const char*>(slot + kValueAt), kEncodedCredentialsSize};
}

}  // namespace

IndexWriter& IndexWriter::operator=(IndexWriter&& other) noexcept {
    if (this != &other) {
        drop_staged();
        file_ = std::move(other.file_);
        staged_path_ = std::move(other.staged_path_);
        other.staged_path_.clear();
    }
    return *this;
}

IndexWriter::~IndexWriter() {
    drop_staged();
}

// A file create()d and never published is nobody's.
void IndexWriter::drop_staged() {
    if (!staged_path_.empty())
        unlink(staged_path_.c_str());
    staged_path_.clear();
}

Result<IndexWriter> IndexWriter::open(const std::string& path) {
    auto file = IndexFile::open(path, true);
    if (!file)
        return file.error();
    IndexWriter writer;
    writer.file_ = std::move(*file);
    return writer;
}

Result<IndexWriter> IndexWriter::create(const std::string& path, std::uint64_t clients,
                                        gid_t group) {
    unsigned log2 = kMinLog2Slots;
    // At most three quarters full: short probes, and room to grow.
    while (log2 < kMaxLog2Slots && (std::uint64_t{1} << log2) * 3 / 4 < clients + 1)
        ++log2;
    const std::string staged = path + ".new";
    unlink(staged.c_str());  // from a writer that died
    UniqueFd fd(::open(staged.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid())
        return file_error(errno, staged);
    FileHeader head{};
    write_new_header(head, log2);
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
    auto file = IndexFile::map(fd.get(), staged);
    if (!file) {
        unlink(staged.c_str());
        return file.error();
    }
    IndexWriter writer;
    writer.file_ = std::move(*file);
    writer.staged_path_ = staged;
    return writer;
}

std::uint64_t IndexWriter::version(unsigned copy) const {
    return file_.copy_header(copy)->version.load(std::memory_order_relaxed);
}

std::uint64_t IndexWriter::lmdb_txnid(unsigned copy) const {
    return file_.copy_header(copy)->lmdb_txnid.load(std::memory_order_relaxed);
}

Status IndexWriter::sync_copy(unsigned copy, bool header_only) const {
    const std::size_t offset = static_cast<std::size_t>(file_.copy_base(copy) - file_.file().data());
    return file_.file().sync(offset, header_only ? kPageBytes : copy_bytes(file_.slots()));
}

// Durably "being changed" before any slot changes: after a power loss the
// copy is never taken for a state it does not hold.
Status IndexWriter::begin_change(unsigned copy) {
    CopyHeader* head = file_.copy_header(copy);
    head->version.store(0, std::memory_order_relaxed);
    head->lmdb_txnid.store(0, std::memory_order_relaxed);
    return sync_copy(copy, true);
}

Status IndexWriter::finish_change(unsigned copy, std::uint64_t lmdb_txnid, std::uint64_t version) {
    if (Status s = sync_copy(copy, false); !s)
        return s;
    CopyHeader* head = file_.copy_header(copy);
    head->lmdb_txnid.store(lmdb_txnid, std::memory_order_relaxed);
    head->version.store(version, std::memory_order_relaxed);
    return sync_copy(copy, true);
}

void IndexWriter::clear(unsigned copy) {
    // Tables only: the header page stays as begin_change left it.
    const std::size_t tables = file_.slots() * (kIdSlotBytes + kFingerprintSlotBytes);
    unsigned char* first = file_.id_slot(copy, 0);
    for (std::size_t at = 0; at < tables; at += 8)
        __atomic_store_n(reinterpret_cast<std::uint64_t*>(first + at), 0, __ATOMIC_RELAXED);
    file_.copy_header(copy)->entries.store(0, std::memory_order_relaxed);
}

void IndexWriter::copy_tables(unsigned from, unsigned to) {
    const std::size_t tables = file_.slots() * (kIdSlotBytes + kFingerprintSlotBytes);
    store_words(file_.id_slot(to, 0), file_.id_slot(from, 0), tables);
    file_.copy_header(to)->entries.store(
        file_.copy_header(from)->entries.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void IndexWriter::erase_fingerprint(unsigned copy, const Fingerprint& fingerprint) {
    const std::uint64_t home = file_.fingerprint_home(fingerprint);
    for (std::uint64_t probe = 0; probe < file_.slots(); ++probe) {
        const std::uint64_t at = (home + probe) & file_.mask();
        const unsigned char* slot = file_.fingerprint_slot(copy, at);
        if (slot[kStateAt] == 0)
            return;
        if (std::memcmp(slot + kValueAt, fingerprint.bytes.data(), kFingerprintBytes) == 0) {
            delete_slot(
                kFingerprintSlotBytes, file_.mask(), at,
                [&](std::uint64_t i) { return file_.fingerprint_slot(copy, i); },
                [&](const unsigned char* s) {
                    Fingerprint f;
                    std::memcpy(f.bytes.data(), s + kValueAt, kFingerprintBytes);
                    return file_.fingerprint_home(f);
                });
            return;
        }
    }
}

void IndexWriter::put(unsigned copy, std::string_view id, const ClientCredentials& credentials) {
    const std::uint64_t home = file_.id_home(id);
    unsigned char* slot = nullptr;
    for (std::uint64_t probe = 0; probe < file_.slots(); ++probe) {
        unsigned char* candidate = file_.id_slot(copy, (home + probe) & file_.mask());
        if (candidate[kStateAt] == 0 || slot_id(candidate) == id) {
            slot = candidate;
            break;
        }
    }
    alignas(8) unsigned char fresh[kIdSlotBytes] = {};
    if (slot[kStateAt] == kFull) {
        ClientCredentials old;
        if (decode_credentials(record_of(slot), old))
            erase_fingerprint(copy, old.certificate_fingerprint);
    } else {
        CopyHeader* head = file_.copy_header(copy);
        head->entries.store(head->entries.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
    }
    fresh[kStateAt] = kFull;
    fresh[kLengthAt] = static_cast<unsigned char>(id.size());
    std::memcpy(fresh + kIdAt, id.data(), id.size());
    const auto encoded = encode_credentials(credentials);
    std::memcpy(fresh + kValueAt, encoded.data(), encoded.size());
    store_words(slot, fresh, sizeof fresh);

    const Fingerprint& fingerprint = credentials.certificate_fingerprint;
    const std::uint64_t fingerprint_at = file_.fingerprint_home(fingerprint);
    for (std::uint64_t probe = 0; probe < file_.slots(); ++probe) {
        unsigned char* candidate =
            file_.fingerprint_slot(copy, (fingerprint_at + probe) & file_.mask());
        if (candidate[kStateAt] == 0 ||
            std::memcmp(candidate + kValueAt, fingerprint.bytes.data(), kFingerprintBytes) == 0) {
            alignas(8) unsigned char entry[kFingerprintSlotBytes] = {};
            entry[kStateAt] = kFull;
            entry[kLengthAt] = static_cast<unsigned char>(id.size());
            std::memcpy(entry + kIdAt, id.data(), id.size());
            std::memcpy(entry + kValueAt, fingerprint.bytes.data(), kFingerprintBytes);
            store_words(candidate, entry, sizeof entry);
            return;
        }
    }
}

void IndexWriter::erase(unsigned copy, std::string_view id) {
    const std::uint64_t home = file_.id_home(id);
    for (std::uint64_t probe = 0; probe < file_.slots(); ++probe) {
        const std::uint64_t at = (home + probe) & file_.mask();
        const unsigned char* slot = file_.id_slot(copy, at);
        if (slot[kStateAt] == 0)
            return;
        if (slot_id(slot) != id)
            continue;
        ClientCredentials old;
        if (decode_credentials(record_of(slot), old))
            erase_fingerprint(copy, old.certificate_fingerprint);
        delete_slot(
            kIdSlotBytes, file_.mask(), at, [&](std::uint64_t i) { return file_.id_slot(copy, i); },
            [&](const unsigned char* s) { return file_.id_home(slot_id(s)); });
        CopyHeader* head = file_.copy_header(copy);
        head->entries.store(head->entries.load(std::memory_order_relaxed) - 1,
                            std::memory_order_relaxed);
        return;
    }
}

Status IndexWriter::publish(const std::string& path) {
    if (Status s = file_.file().sync(0, file_.file().size()); !s)
        return s;
    if (rename(staged_path_.c_str(), path.c_str()) != 0)
        return file_error(errno, path);
    staged_path_.clear();
    const auto slash = path.rfind('/');
    return fsync_directory(slash == std::string::npos ? "." : path.substr(0, slash));
}

void IndexWriter::retire() {
    file_.header()->retired.store(1, std::memory_order_release);
}

}  // namespace keyauth
