// The registry writer's side of lookup.idx: changes one copy (never the
// one the counter publishes), makes it durable, and makes new files when
// the tables must grow. Used under the write lock only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "index_file.hpp"
#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

class IndexWriter {
  public:
    IndexWriter() = default;
    IndexWriter(IndexWriter&& other) noexcept { *this = std::move(other); }
    IndexWriter& operator=(IndexWriter&& other) noexcept;
    IndexWriter(const IndexWriter&) = delete;
    IndexWriter& operator=(const IndexWriter&) = delete;
    ~IndexWriter();

    static Result<IndexWriter> open(const std::string& path);
    // A new file with both copies empty, for at least `clients` clients
    // whose records take `record_bytes`, with room for more (tables at most
    // 0.7 full, heap slack of 1/16, at least 1 MiB); its room allocated now
    // (a full disk fails here, not as SIGBUS later), made under a temporary
    // name and renamed over path by publish().
    static Result<IndexWriter> create(const std::string& path, std::uint64_t clients,
                                      std::uint64_t record_bytes, gid_t group);
    // Where create() makes the file for path.
    static std::string staged_path(const std::string& path) { return path + ".new"; }

    bool mapped() const { return file_.mapped(); }
    std::uint64_t version(unsigned copy) const;
    std::uint64_t lmdb_txnid(unsigned copy) const;
    // Whether a change of `changed_ids` ids, leaving `clients` clients, fits
    // this file: its tables at most 0.85 full (at the end, and on the way,
    // removals being applied first), and room in the heap for every changed
    // id's largest record. If not, a new file.
    bool fits(std::uint64_t clients, std::size_t changed_ids) const;

    // A change to a copy: begin_change marks it as being changed (durably),
    // finish_change makes its tables and the records appended for it
    // durable, then names what they hold. put and erase fail only on a file
    // they cannot make sense of (or a heap without room): then a new file.
    Status begin_change(unsigned copy);
    Status put(unsigned copy, std::string_view id, const ClientCredentials& credentials);
    Status erase(unsigned copy, std::string_view id);
    Status finish_change(unsigned copy, std::uint64_t lmdb_txnid, std::uint64_t version);
    // Both copies the same (a new file, filled once).
    void copy_tables(unsigned from, unsigned to);

    // rename into place (create()d only); the whole file is then on disk,
    // and its pages are handed back to the page cache (see release_pages)
    Status publish(const std::string& path);
    void retire();

    dev_t device() const { return file_.file().device(); }
    ino_t inode() const { return file_.file().inode(); }

  private:
    Status sync_copy(unsigned copy, bool header_only) const;
    std::uint64_t heap_in_use() const;
    // The record for id in the other copy, if it is these very bytes and
    // safely below where this change appends; else 0.
    std::uint64_t shared_record(unsigned copy, std::string_view id, const unsigned char* encoded,
                                std::size_t length) const;
    Result<std::uint64_t> append(const unsigned char* encoded, std::size_t length);
    Status erase_fingerprint(unsigned copy, const Fingerprint& fingerprint,
                             std::uint64_t record_index);
    void drop_staged();
    // A create()d file's heap is filled once, in order: the pages behind
    // the append point leave this process's memory as it goes.
    void release_heap_behind();

    index_file::IndexFile file_;
    std::string staged_path_;  // create()d, not yet published
    // The records this change appended: [append_from_, append_at_) of the heap.
    std::uint64_t append_from_ = 0;
    std::uint64_t append_at_ = 0;
    std::uint64_t heap_released_ = 0;  // a create()d file's heap: [0, this) handed back
};

}  // namespace keyauth
