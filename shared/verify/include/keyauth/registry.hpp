// The registry of clients as every adapter reads it. RegistryReader (the
// servers) reads lookup.idx; LmdbRegistry (keytool, keyauth-sync: see
// lmdb_registry.hpp) reads and writes LMDB, the registry of record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

class VerificationCache;
class FingerprintMemo;

// Work a caller hands to a store's lookup, to be run while the store waits
// for memory (a reference to a callable: no copy, no allocation).
class Meanwhile {
  public:
    template <class Work, class = std::enable_if_t<!std::is_same_v<Work, Meanwhile>>>
    explicit Meanwhile(Work& work)
        : run_([](void* w) { (*static_cast<Work*>(w))(); }), work_(&work) {}
    void operator()() const { run_(work_); }

  private:
    void (*run_)(void*);
    void* work_;
};

class ClientStore {
  public:
    virtual ~ClientStore() = default;

    // Errc::unknown_client when absent. Never allocates on success.
    virtual Status find(std::string_view id, ClientCredentials& out) = 0;
    // find(), running meanwhile() exactly once whatever the outcome: a store
    // whose lines may be cold starts loading the client's first, so that the
    // caller's work (hashing the presented secret) overlaps the loads. id:
    // one is_valid_client_id accepted (a token's parse, a recheck's check),
    // not checked again.
    virtual Status find_while(std::string_view id, ClientCredentials& out, Meanwhile meanwhile) {
        meanwhile();
        return find(id, out);
    }
    // Fills the id (at most kMaxClientIdLength bytes) of the certificate's owner.
    virtual Status find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                       ClientCredentials& out) = 0;
    virtual Result<std::vector<ClientRecord>> list() = 0;
    // Changes whenever a write commits or the store is replaced: a cheap
    // "has anything changed" for callers that cache verdicts.
    virtual std::uint64_t generation() = 0;
    // Tokens this process verified under a generation (verification_cache.hpp,
    // the servers' reader only): none by default.
    virtual VerificationCache* verification_cache() { return nullptr; }
    // The fingerprints of certificates this process saw (fingerprint_memo.hpp,
    // the servers' reader only): none by default.
    virtual FingerprintMemo* fingerprint_memo() { return nullptr; }
};

// A registry on this host, walked in id order without loading it whole.
class LocalRegistry : public ClientStore {
  public:
    // Walks one committed state in id order (from the last id backward),
    // until visit returns false. A walk that meets a commit starts over:
    // start_over() resets what visit kept.
    using ClientVisitor = std::function<bool(std::string_view id, const ClientCredentials&)>;
    virtual Status scan(bool backward, const std::function<void()>& start_over,
                        const ClientVisitor& visit) = 0;
    virtual Result<std::size_t> count();
    Result<std::vector<ClientRecord>> list() override;
};

// Is dir a registry a server can open (a directory holding data.mdb,
// lookup.idx and commit.seq, written by its owner alone), judged without
// opening it: opening as root would create files.
Status check_registry_directory(std::string_view dir);
// Its first part, which every opening makes whatever its files' format: a
// directory written by its owner alone, along a path only root or that
// owner may change (as sshd's StrictModes), its served files its owner's.
Status check_registry_ownership(std::string_view dir);
// As above, and its lookup.idx is one this keyauth reads (a server's
// configuration test: an older index needs keytool run once first).
Status check_registry_for_servers(std::string_view dir);

}  // namespace keyauth
