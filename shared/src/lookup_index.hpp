// lookup.idx: what the servers read. Two open-addressing hash tables in one
// file (client id -> record, certificate fingerprint -> client id), written
// in place by the registry's writer inside the commit sequence's odd window
// and read by the servers without any write access or lock. A reader may
// read a slot while it is being rewritten; every offset it follows is
// bounded by the table size fixed when the file was made, so a torn read is
// garbage that the commit sequence then rejects, never a crash. (LMDB gives
// no such guarantee for pages rewritten under a reader: see
// docs/ARCHITECTURE.md, "Readers that cannot write".)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"
#include "mapped_file.hpp"

namespace keyauth {

class LookupIndex {
  public:
    enum class Found { yes, no, garbage };

    LookupIndex() = default;
    LookupIndex(LookupIndex&& other) noexcept = default;
    LookupIndex& operator=(LookupIndex&& other) noexcept;
    LookupIndex(const LookupIndex&) = delete;
    LookupIndex& operator=(const LookupIndex&) = delete;
    ~LookupIndex();

    static Result<LookupIndex> open_for_reading(const std::string& path);
    static Result<LookupIndex> open_for_writing(const std::string& path);
    // A new, empty index for at least `clients` clients, made under a
    // temporary name in path's directory and renamed over path by publish().
    static Result<LookupIndex> create(const std::string& path, std::uint64_t clients, gid_t group);

    // Readers. Found::garbage: what was read cannot be a record (a slot
    // being rewritten); the caller's commit-sequence check decides.
    Found find(std::string_view id, ClientCredentials& out) const;
    Found find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                              ClientCredentials& out) const;
    // Every client, in no particular order; false if something read was
    // garbage.
    bool for_each(
        const std::function<void(std::string_view, const ClientCredentials&)>& visit) const;
    // Set once a newer file has replaced this one: reopen.
    bool retired() const;

    // The writer, under the write lock and inside the odd window.
    bool mapped() const { return file_.mapped(); }
    bool has_room_for(std::uint64_t more) const;
    std::uint64_t size() const;
    void put(std::string_view id, const ClientCredentials& credentials);
    void erase(std::string_view id);
    std::uint64_t lmdb_txnid() const;
    void set_lmdb_txnid(std::uint64_t txnid);
    Status sync() const;
    Status sync_header() const;
    Status publish(const std::string& path);  // rename into place (create()d only)
    void retire();

    dev_t device() const { return file_.device(); }
    ino_t inode() const { return file_.inode(); }

    struct Header;  // the file's first page

  private:
    Header* header() const;
    unsigned char* id_slot(std::uint64_t index) const;
    unsigned char* fingerprint_slot(std::uint64_t index) const;
    std::uint64_t id_home(std::string_view id) const;
    std::uint64_t fingerprint_home(const Fingerprint& fingerprint) const;
    std::uint64_t mask() const;
    static Result<LookupIndex> checked(Result<MappedFile> file, const std::string& path);
    void erase_fingerprint(const Fingerprint& fingerprint);
    void drop_staged();

    MappedFile file_;
    std::uint64_t slots_ = 0;
    std::string staged_path_;  // create()d, not yet published
};

}  // namespace keyauth
