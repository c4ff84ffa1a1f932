// The registry writer's side of lookup.idx: changes one copy (never the
// one the counter publishes), makes it durable, and makes new files when
// the tables must grow. Used under the write lock only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "index_file.hpp"
#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

class IndexWriter {
  public:
    IndexWriter() = default;
    IndexWriter(IndexWriter&& other) noexcept = default;
    IndexWriter& operator=(IndexWriter&& other) noexcept;
    IndexWriter(const IndexWriter&) = delete;
    IndexWriter& operator=(const IndexWriter&) = delete;
    ~IndexWriter();

    static Result<IndexWriter> open(const std::string& path);
    // A new file with both copies empty, for at least `clients` clients,
    // its room allocated now (a full disk fails here, not as SIGBUS later),
    // made under a temporary name and renamed over path by publish().
    static Result<IndexWriter> create(const std::string& path, std::uint64_t clients, gid_t group);

    bool mapped() const { return file_.mapped(); }
    std::uint64_t version(unsigned copy) const;
    std::uint64_t lmdb_txnid(unsigned copy) const;
    // How many clients a copy holds at most (three quarters full).
    std::uint64_t capacity() const { return file_.slots() * 3 / 4; }

    // A change to a copy: begin_change marks it as being changed (durably),
    // finish_change makes its tables durable, then names what they hold.
    Status begin_change(unsigned copy);
    void put(unsigned copy, std::string_view id, const ClientCredentials& credentials);
    void erase(unsigned copy, std::string_view id);
    void clear(unsigned copy);
    Status finish_change(unsigned copy, std::uint64_t lmdb_txnid, std::uint64_t version);
    // Both copies the same (a new file, filled once).
    void copy_tables(unsigned from, unsigned to);

    Status publish(const std::string& path);  // rename into place (create()d only)
    void retire();

    dev_t device() const { return file_.file().device(); }
    ino_t inode() const { return file_.file().inode(); }

  private:
    Status sync_copy(unsigned copy, bool header_only) const;
    void erase_fingerprint(unsigned copy, const Fingerprint& fingerprint);
    void drop_staged();

    index_file::IndexFile file_;
    std::string staged_path_;  // create()d, not yet published
};

}  // namespace keyauth
