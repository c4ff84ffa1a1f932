#include "index_writer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sodium.h>

#include "keyauth/files.hpp"

namespace keyauth {

using namespace index_file;

namespace {

// Tables at most this full when made, and a new file past the second.
constexpr std::uint64_t kCreatedLoadPercent = 70;
constexpr std::uint64_t kMaxLoadPercent = 85;
// Heap slack: room for the records later commits append before a new file
// compacts them.
constexpr std::uint64_t kMinHeapSlack = std::uint64_t{1} << 20;
constexpr std::uint64_t kHeapSlackDivisor = 16;
// A new file's heap is handed back in steps of this, the last step kept
// (the probes of the next puts read the records just appended).
constexpr std::uint64_t kReleaseBytes = std::uint64_t{4} << 20;

// MADV_DONTNEED on a shared file mapping only unmaps: a page written
// through it stays in the page cache, dirty until written back or synced
// (publish's msync covers the whole file), and the next touch maps the
// same bytes again. What it saves is this process's resident memory: a
// new lookup.idx at a million clients is ~200 MB. A refusal costs only
// that memory.
void release_pages(unsigned char* from, std::size_t bytes) {
    if (bytes > 0)
        (void)madvise(from, bytes, MADV_DONTNEED);
}

Error corrupt_index() {
    return make_error(Errc::registry_corrupt, "lookup.idx is corrupt");
}

// Linear probing's deletion without tombstones: slots after the hole whose
// home lies outside (hole, slot], cyclically, move back into it.
template <class HomeOf>
Status delete_slot(const IndexFile& file, std::uint64_t* table, std::uint64_t hole,
                   HomeOf home_of) {
    std::uint64_t next = hole;
    for (std::uint64_t probed = 0;; ++probed) {
        if (probed == file.slots())
            return corrupt_index();  // no empty slot: never so below the load limit
        next = file.next_slot(next);
        const std::uint64_t word = load_slot(table, next);
        if (word == 0)
            break;
        std::uint64_t home = 0;
        if (!home_of(word, home))
            return corrupt_index();
        const bool stays =
            hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (stays)
            continue;
        store_slot(table, hole, word);
        hole = next;
    }
    store_slot(table, hole, 0);
    return {};
}

// Where id's slot is in a copy's id table: found (word nonzero) or the
// empty slot that ends its probe.
struct IdSlot {
    std::uint64_t slot = 0;
    std::uint64_t word = 0;
};

Result<IdSlot> find_id(const IndexFile& file, unsigned copy, std::string_view id,
                       ClientCredentials& credentials) {
    alignas(8) unsigned char record[kMaxRecordBytes];
    const std::uint64_t* table = file.id_table(copy);
    const Probe probe = file.id_probe(id);
    std::uint64_t slot = probe.home;
    for (std::uint64_t probed = 0; probed < file.slots(); ++probed) {
        const std::uint64_t word = load_slot(table, slot);
        if (word == 0)
            return IdSlot{slot, 0};
        std::string_view stored;
        if (tag_of(word) == probe.tag) {
            if (!file.read_record(word, record, stored, credentials))
                return corrupt_index();
            if (stored == id)
                return IdSlot{slot, word};
        }
        slot = file.next_slot(slot);
    }
    return corrupt_index();  // full: fits() keeps it from happening
}

}  // namespace

IndexWriter& IndexWriter::operator=(IndexWriter&& other) noexcept {
    if (this != &other) {
        drop_staged();
        file_ = std::move(other.file_);
        staged_path_ = std::move(other.staged_path_);
        other.staged_path_.clear();
        append_from_ = other.append_from_;
        append_at_ = other.append_at_;
        heap_released_ = other.heap_released_;
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
                                        std::uint64_t record_bytes, gid_t group) {
    const std::uint64_t slots = std::clamp<std::uint64_t>(
        ((clients + 1) * 100 + kCreatedLoadPercent - 1) / kCreatedLoadPercent, kMinSlots,
        kMaxSlots);
    const std::uint64_t heap_bytes =
        round_up(record_bytes + std::max(record_bytes / kHeapSlackDivisor, kMinHeapSlack),
                 kPageBytes);
    if (heap_bytes > kMaxHeapBytes)
        return make_error(Errc::io_error, path + ": too many clients for one lookup index");
    const std::string staged = staged_path(path);
    unlink(staged.c_str());  // from a writer that died
    UniqueFd fd(::open(staged.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid())
        return file_error(errno, staged);
    FileHeader head{};
    write_new_header(head, slots, heap_bytes);
    // Allocated, not sparse: writing into a hole of a shared mapping on a
    // full disk is SIGBUS; here it is an error, before anything changed.
    const auto bytes = static_cast<off_t>(file_bytes(slots, heap_bytes));
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

// Past either copy's records: what neither copy names, free to append to.
std::uint64_t IndexWriter::heap_in_use() const {
    const std::uint64_t in_use =
        std::max(file_.copy_header(0)->heap_end.load(std::memory_order_relaxed),
                 file_.copy_header(1)->heap_end.load(std::memory_order_relaxed));
    return std::min(in_use, file_.heap_bytes());
}

bool IndexWriter::fits(std::uint64_t clients, std::size_t changed_ids) const {
    const std::uint64_t heap_room = file_.heap_bytes() - heap_in_use();
    return clients <= file_.slots() * kMaxLoadPercent / 100 &&
           changed_ids <= heap_room / kMaxRecordBytes;
}

Status IndexWriter::sync_copy(unsigned copy, bool header_only) const {
    const std::size_t offset = static_cast<std::size_t>(file_.copy_base(copy) - file_.file().data());
    return file_.file().sync(offset, header_only ? kPageBytes : copy_bytes(file_.slots()));
}

// Durably "being changed" before any slot or record changes: after a power
// loss the copy is never taken for a state it does not hold.
Status IndexWriter::begin_change(unsigned copy) {
    CopyHeader* head = file_.copy_header(copy);
    head->version.store(0, std::memory_order_relaxed);
    head->lmdb_txnid.store(0, std::memory_order_relaxed);
    append_from_ = append_at_ = heap_in_use();
    return sync_copy(copy, true);
}

// The tables and the records appended for them durable before the header
// names them: one msync over both, as they need no order between them. The
// range also spans the other copy when this one is copy 0; that copy is
// published and was synced when it was, so it has no dirty page to write
// and only makes the walk longer (a tagged page-cache lookup, not a write).
Status IndexWriter::finish_change(unsigned copy, std::uint64_t lmdb_txnid, std::uint64_t version) {
    const std::size_t copy_at =
        static_cast<std::size_t>(file_.copy_base(copy) - file_.file().data());
    std::size_t end = copy_at + copy_bytes(file_.slots());
    if (append_at_ > append_from_)
        end = heap_offset(file_.slots()) + append_at_;
    if (Status s = file_.file().sync(copy_at, end - copy_at); !s)
        return s;
    CopyHeader* head = file_.copy_header(copy);
    head->heap_end.store(append_at_, std::memory_order_relaxed);
    head->lmdb_txnid.store(lmdb_txnid, std::memory_order_relaxed);
    // Last, with release order: a thread that sees this version (acquiring it,
    // or commit.seq's counter stored after it) sees this heap_end and
    // lmdb_txnid too. That orders visibility only, not write-back: durability
    // is the syncs', the tables and records above, the header page (all three
    // fields) below.
    head->version.store(version, std::memory_order_release);
    return sync_copy(copy, true);
}

void IndexWriter::copy_tables(unsigned from, unsigned to) {
    store_words(reinterpret_cast<unsigned char*>(file_.id_table(to)),
                reinterpret_cast<const unsigned char*>(file_.id_table(from)),
                file_.slots() * 2 * 8);
    file_.copy_header(to)->entries.store(
        file_.copy_header(from)->entries.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

std::uint64_t IndexWriter::shared_record(unsigned copy, std::string_view id,
                                         const unsigned char* encoded, std::size_t length) const {
    const unsigned other = copy ^ 1;
    if (version(other) == 0)
        return 0;  // a change that never finished: its records may be overwritten
    ClientCredentials unused;
    const auto found = find_id(file_, other, id, unused);
    if (!found || found->word == 0)
        return 0;
    const std::uint64_t index = record_index_of(found->word);
    const std::uint64_t offset = (index - 1) * 8;
    if (offset + length > append_from_)
        return 0;
    // Not a check of a credential: two records both written by this writer.
    return sodium_memcmp(file_.heap() + offset, encoded, length) == 0 ? index : 0;
}

Result<std::uint64_t> IndexWriter::append(const unsigned char* encoded, std::size_t length) {
    if (length > file_.heap_bytes() - append_at_)
        return make_error(Errc::io_error, "lookup.idx has no room left for records");
    store_words(file_.heap() + append_at_, encoded, length);
    const std::uint64_t index = append_at_ / 8 + 1;
    append_at_ += length;
    if (!staged_path_.empty())
        release_heap_behind();
    return index;
}

void IndexWriter::release_heap_behind() {
    if (append_at_ < heap_released_ + 2 * kReleaseBytes)
        return;
    // The heap starts on a page: heap_offset() is a whole number of pages.
    const std::uint64_t to = (append_at_ - kReleaseBytes) / kPageBytes * kPageBytes;
    release_pages(file_.heap() + heap_released_, to - heap_released_);
    heap_released_ = to;
}

Status IndexWriter::erase_fingerprint(unsigned copy, const Fingerprint& fingerprint,
                                      std::uint64_t record_index) {
    std::uint64_t* table = file_.fingerprint_table(copy);
    std::uint64_t slot = file_.fingerprint_probe(fingerprint).home;
    for (std::uint64_t probed = 0; probed < file_.slots(); ++probed) {
        const std::uint64_t word = load_slot(table, slot);
        if (word == 0)
            return {};
        if (record_index_of(word) == record_index) {
            alignas(8) unsigned char record[kMaxRecordBytes];
            return delete_slot(file_, table, slot, [&](std::uint64_t moved, std::uint64_t& home) {
                std::string_view id;
                ClientCredentials credentials;
                if (!file_.read_record(moved, record, id, credentials))
                    return false;
                home = file_.fingerprint_probe(credentials.certificate_fingerprint).home;
                return true;
            });
        }
        slot = file_.next_slot(slot);
    }
    return {};
}

Status IndexWriter::put(unsigned copy, std::string_view id, const ClientCredentials& credentials) {
    alignas(8) unsigned char encoded[kMaxRecordBytes];
    const std::size_t length = encode_record(id, credentials, encoded);
    ClientCredentials old;
    const auto at = find_id(file_, copy, id, old);
    if (!at)
        return at.error();
    std::uint64_t index = shared_record(copy, id, encoded, length);
    if (index == 0) {
        auto appended = append(encoded, length);
        if (!appended)
            return appended.error();
        index = *appended;
    }
    CopyHeader* head = file_.copy_header(copy);
    if (at->word != 0) {
        if (Status s =
                erase_fingerprint(copy, old.certificate_fingerprint, record_index_of(at->word));
            !s)
            return s;
    } else {
        head->entries.store(head->entries.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
    }
    store_slot(file_.id_table(copy), at->slot, slot_word(file_.id_probe(id).tag, index));

    // The certificate's slot: a free one, or the one a record with the same
    // fingerprint held.
    const Fingerprint& fingerprint = credentials.certificate_fingerprint;
    const Probe probe = file_.fingerprint_probe(fingerprint);
    std::uint64_t* table = file_.fingerprint_table(copy);
    std::uint64_t slot = probe.home;
    alignas(8) unsigned char record[kMaxRecordBytes];
    for (std::uint64_t probed = 0;; ++probed) {
        if (probed == file_.slots())
            return corrupt_index();  // full: never so below the load limit
        const std::uint64_t word = load_slot(table, slot);
        if (word != 0 && tag_of(word) == probe.tag) {
            std::string_view owner;
            ClientCredentials other;
            if (!file_.read_record(word, record, owner, other))
                return corrupt_index();
            if (other.certificate_fingerprint == fingerprint)
                break;
        }
        if (word == 0)
            break;
        slot = file_.next_slot(slot);
    }
    store_slot(table, slot, slot_word(probe.tag, index));
    return {};
}

Status IndexWriter::erase(unsigned copy, std::string_view id) {
    ClientCredentials old;
    const auto at = find_id(file_, copy, id, old);
    if (!at)
        return at.error();
    if (at->word == 0)
        return {};
    if (Status s = erase_fingerprint(copy, old.certificate_fingerprint, record_index_of(at->word));
        !s)
        return s;
    alignas(8) unsigned char record[kMaxRecordBytes];
    if (Status s = delete_slot(file_, file_.id_table(copy), at->slot,
                               [&](std::uint64_t moved, std::uint64_t& home) {
                                   std::string_view moved_id;
                                   ClientCredentials credentials;
                                   if (!file_.read_record(moved, record, moved_id, credentials))
                                       return false;
                                   home = file_.id_probe(moved_id).home;
                                   return true;
                               });
        !s)
        return s;
    CopyHeader* head = file_.copy_header(copy);
    head->entries.store(head->entries.load(std::memory_order_relaxed) - 1,
                        std::memory_order_relaxed);
    return {};
}

Status IndexWriter::publish(const std::string& path) {
    if (Status s = file_.file().sync(0, file_.file().size()); !s)
        return s;
    if (rename(staged_path_.c_str(), path.c_str()) != 0)
        return file_error(errno, path);
    staged_path_.clear();
    // Clean now: later changes touch a few pages of it, faulted back in.
    release_pages(file_.file().data(), file_.file().size());
    const auto slash = path.rfind('/');
    return fsync_directory(slash == std::string::npos ? "." : path.substr(0, slash));
}

void IndexWriter::retire() {
    file_.header()->retired.store(1, std::memory_order_release);
}

}  // namespace keyauth
