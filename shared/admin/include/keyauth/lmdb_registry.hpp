// The registry of record on this host: LMDB, written by keytool or
// keyauth-sync alone, with lookup.idx kept in step for the servers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/registry.hpp"

namespace keyauth {

// read_write: keytool on an existing registry (upgrading an older one).
// create: provisioning, which may make the data file.
// to_publish: as read_write, for a read's publication alone (see
// open_registry_to_read): writer.lock is waited for 100 ms at most, not
// the writers' 5 s, before the opening fails Errc::busy.
enum class OpenMode { read_write, create, to_publish };

// Applies writes in one transaction, exclusive across processes, committed
// only by commit(). Destroying it uncommitted rolls everything back.
class RegistryWriter {
  public:
    virtual ~RegistryWriter() = default;
    virtual Status find(std::string_view id, ClientCredentials& out) = 0;
    // Refused with Errc::already_exists unless replace, and when another
    // client's record holds the certificate (nothing written); replacing
    // drops the old certificate's fingerprint from the index.
    virtual Status put(const ClientRecord& record, bool replace) = 0;
    // The client whose record holds this certificate; nullopt: none.
    virtual Result<std::optional<std::string>> fingerprint_owner(
        const Fingerprint& fingerprint) = 0;
    // Errc::unknown_client for an id no registry may hold, as for one absent.
    virtual Status erase(std::string_view id) = 0;
    // Every client and index entry (a replica rebuilding from its source).
    virtual Status erase_all() = 0;
    // Bookkeeping beside the clients, committed with them in the same
    // transaction (a replica's position in its source). Servers never read it.
    virtual Status put_meta(std::string_view key, std::string_view value) = 0;
    virtual Result<std::optional<std::string>> find_meta(std::string_view key) = 0;
    // Durable in LMDB, then published to the servers with one store; the
    // operator's signals are held meanwhile. Errc::not_published: committed,
    // only the publication failed.
    virtual Status commit() = 0;
};

// What a walk over LMDB does with the pages of data.mdb it read. A one-shot
// walk (keyauth-sync's digest) hands them back, so its memory does not grow
// with the registry; a long-lived reader (the console) keeps them, or each
// of its full scans would fault the whole registry back in (4-6x slower at
// a million clients). keytool list walks lookup.idx instead.
enum class WalkedPages { kept, handed_back };

// One committed state at a glance: how many clients (LMDB's own count, not a
// walk) and the bookkeeping values asked for (RegistryWriter::put_meta's).
struct RegistrySummary {
    std::size_t clients = 0;
    std::vector<std::optional<std::string>> meta;  // in the order asked for
    std::uint64_t generation = 0;                  // the transaction read (generation())
};

class LmdbRegistry final : public LocalRegistry {
  public:
    // Leaves data.mdb 0640, commit.seq 0640, lookup.idx 0640 (all in
    // data.mdb's group) and writer.lock 0600, and upgrades registries made
    // by older releases; each write and each read holds writer.lock.
    static Result<std::unique_ptr<LmdbRegistry>> open(std::string_view dir, OpenMode mode);
    ~LmdbRegistry() override;

    Status find(std::string_view id, ClientCredentials& out) override;
    Status find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                               ClientCredentials& out) override;
    Status scan(bool backward, const std::function<void()>& start_over,
                const ClientVisitor& visit) override;
    Result<std::size_t> count() override;
    std::uint64_t generation() override;

    Result<std::unique_ptr<RegistryWriter>> begin_write();
    // In one read-only transaction (under the write lock, as every read
    // here): a report on the registry never begins a write.
    Result<RegistrySummary> summarize(const std::vector<std::string_view>& meta_keys);

    // This registry was replaced on disk (a rebuild exchanged another
    // directory in): servers still reading its index follow the path at
    // their next lookup instead of at their next periodic check (200 ms).
    // No write may follow.
    void retire_for_readers();

    void set_walked_pages(WalkedPages walked);

    // For a registry no server reads yet (keyauth-sync's load and rebuild
    // fill one beside the one served, then swap it in): a fill may commit
    // as often as it likes, so that no transaction holds more than a part
    // of the registry's pages in memory. Until finish_fill(), commits write
    // LMDB only (durably, as always), ids are appended where they come in
    // order, and lookup.idx is left as it is: a publication per commit
    // would refill it whole each time. finish_fill() fills it once, from
    // what LMDB holds, and publishes it.
    void begin_fill();
    Status finish_fill();

    struct Impl;

  private:
    explicit LmdbRegistry(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Whether the caller may open data.mdb to write: it may write the directory
// and the registry is its own or root's (check_owner_may_write). Everyone
// else, root too on another user's registry, reads what the servers read,
// and may not upgrade it.
bool may_write_registry(std::string_view dir);

// keytool's reads (list, show, verify, the console's), the owner's as a
// member's: lookup.idx, what the servers read (RegistryReader), walked with
// pread (RegistryReader::scan), holding neither writer.lock nor an LMDB
// transaction while the answer is read or written, so a pager left open
// holds up no writer (keytool, keyauth-sync). Where the caller may write
// the directory, LMDB is opened first and closed again: the opening
// publishes what LMDB committed and lookup.idx does not hold yet (a writer
// killed between the two, an older registry, which it also upgrades), so
// the owner never reads an older state than LMDB holds; a member reads what
// the servers enforce. A commit published while a listing of more than one
// range is written fails it (RegistryReader::scan starts over): run it
// again. all_published is false when another writer holds writer.lock (a
// long gen, keyauth-sync's exchange, a keytool stopped by Ctrl-Z): no read
// waits for it (OpenMode::to_publish), the owner then reads what the
// servers enforce, as a member does, without a commit LMDB may hold that
// lookup.idx does not yet.
Result<std::unique_ptr<LocalRegistry>> open_registry_to_read(std::string_view dir,
                                                             bool& all_published);

}  // namespace keyauth
