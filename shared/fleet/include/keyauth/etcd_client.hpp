// A small etcd v3 client over etcd's JSON gateway (/v3/kv/range, /v3/kv/txn,
// /v3/watch, /v3/auth/authenticate) through libcurl: no protoc at build time,
// TLS and client certificates from libcurl. Several endpoints, failing over
// between them. Only the fleet's programs (keytool --etcd, keyauth-sync)
// link it; the servers never talk to etcd.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/result.hpp"
#include "keyauth/token.hpp"

namespace keyauth {

inline constexpr std::string_view kEtcdEnvVar = "KEYAUTH_ETCD";

struct EtcdOptions {
    std::vector<std::string> endpoints;  // http://host:port or https://host:port
    std::string ca_cert;                 // PEM file the members' certificates chain to
    std::string client_cert;             // for etcd's --client-cert-auth
    std::string client_key;
    std::string user;  // etcd's own authentication, if enabled
    SecretString password;
    // The whole request, across endpoints and retries; and one try at one endpoint.
    // KEYAUTH_ETCD_TIMEOUT_MS sets the first (tests shorten it).
    std::chrono::milliseconds request_timeout{10000};
    std::chrono::milliseconds attempt_timeout{2000};
    // Keys per page when a whole prefix is read (a load, a rebuild, a
    // digest check, a listing). Large, because etcd 3.4 (Debian 12's)
    // visits every key from a page's start to the range's end for each
    // page, whatever its limit: reading n keys over one range costs
    // n^2 / (2 * page) visits. At a million clients pages of 1 000 cost
    // etcd 154 s of CPU, pages of 10 000 31 s (BENCHMARKS.md); keyauth-sync's
    // snapshots read each page of a window of keys instead (sync/snapshot.cpp),
    // 13 s. 10 000 records of the longest ids are about 3 MB. KEYAUTH_ETCD_READ_PAGE sets it (tests: several
    // pages from a small fleet).
    std::int64_t read_page = 10000;
};

// Endpoints from a comma-separated list; TLS and user from the environment
// (KEYAUTH_ETCD_CACERT, _CERT, _KEY, _USER, _PASSWORD or _PASSWORD_FILE), each
// overridden by a flag: "--etcd-cacert" etc. in flags, as name -> value.
Result<EtcdOptions> etcd_options(std::string_view endpoints,
                                 const std::vector<std::pair<std::string, std::string>>& flags);
// The flags etcd_options understands, without the leading "--".
const std::vector<std::string_view>& etcd_flag_names();

struct EtcdKeyValue {
    std::string key;
    std::string value;  // raw bytes (base64 only on the wire)
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
};

struct EtcdRange {
    // The store's revision when it answered: for a range at revision 0 the
    // one read, for a range at revision R etcd's current one (>= R), not R.
    std::int64_t revision = 0;
    std::string cluster_id;  // the answering cluster's, decimal: changes when etcd is replaced
    std::vector<EtcdKeyValue> kvs;
    bool more = false;  // limit cut it short
    std::int64_t count = 0;  // keys in the range at the revision read, before any filter
};

// A compare that must hold for a transaction to apply: the key's
// create_revision (0 = absent) or mod_revision equals revision.
struct EtcdCompare {
    enum class Target { create_revision, mod_revision };
    Target target = Target::mod_revision;
    std::string key;
    std::int64_t revision = 0;
};

struct EtcdOperation {
    enum class Kind { put, erase };
    Kind kind = Kind::put;
    std::string key;
    std::string value;
};

struct EtcdTxnResult {
    bool succeeded = false;
    std::int64_t revision = 0;
    // When the compare failed: what is at the compared keys now (absent: none).
    std::vector<EtcdKeyValue> current;
};

struct EtcdEvent {
    bool deleted = false;
    EtcdKeyValue kv;  // for a delete: the key and its mod_revision
};

struct EtcdWatchBatch {
    std::int64_t header_revision = 0;
    std::vector<EtcdEvent> events;
    std::int64_t compact_revision = 0;  // non-zero: the start was compacted away
    bool canceled = false;
};

// Range errors: Errc::not_found with "compacted" when the revision asked for
// has been compacted; Errc::io_error when no endpoint answered;
// Errc::permission_denied only when etcd refused the request itself (gRPC
// PERMISSION_DENIED: the user's role may not read the key);
// Errc::authentication_failed when the login failed (a wrong or rotated
// password, a deleted user, TLS failing at login, a token refused again
// after logging in afresh). Every request, a watch too.
class EtcdClient {
  public:
    static Result<std::unique_ptr<EtcdClient>> connect(EtcdOptions options);
    ~EtcdClient();

    // [key, range_end) at revision (0: now), sorted by key; limit 0: all.
    // Serializable: the answering member's own state, without asking a
    // quorum (possibly behind): for checks a later compare guards anyway.
    Result<EtcdRange> range(std::string_view key, std::string_view range_end,
                            std::int64_t revision = 0, std::int64_t limit = 0,
                            bool serializable = false);
    // The keys in [key, range_end) at `revision` that were put after
    // `after` (keys only), and in `count` how many keys the range holds
    // then. etcd reads every key of the range to answer (no values sent).
    Result<EtcdRange> changed_since(std::string_view key, std::string_view range_end,
                                    std::int64_t revision, std::int64_t after);
    // How many keys [key, range_end) holds at `revision` (0: now), nothing
    // else sent. etcd walks its index of the range to count them.
    Result<EtcdRange> count(std::string_view key, std::string_view range_end,
                            std::int64_t revision = 0);
    // All compares hold -> all operations, atomically. On failure the
    // compared keys are read in the same transaction.
    Result<EtcdTxnResult> txn(const std::vector<EtcdCompare>& compares,
                              const std::vector<EtcdOperation>& operations);
    Status compact(std::int64_t revision);

    // The key as etcd holds it after every write proposed before this call
    // has been decided for good: a write (a delete of a key nobody uses)
    // goes through the raft log with the read, so a proposal still pending
    // from an earlier, timed-out request either commits before it or can
    // never commit. What settles "did my timed-out write happen?".
    Result<std::optional<EtcdKeyValue>> settled_get(std::string_view key);

    // Watches [key, range_end) from start_revision on one endpoint, handing
    // each response to on_batch until it returns false, the stream breaks or
    // `session` has passed (then returns ok: the caller watches again from
    // where it is). should_stop is polled every 20 ms.
    Status watch(std::string_view key, std::string_view range_end, std::int64_t start_revision,
                 const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                 std::chrono::milliseconds session, const std::function<bool()>& should_stop);

    // The endpoint that answered last.
    const std::string& endpoint() const;
    // Keys per page for reading a whole prefix (EtcdOptions::read_page).
    std::int64_t read_page() const;

    struct Impl;

  private:
    explicit EtcdClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The end of a prefix's range: the prefix with its last byte incremented.
std::string etcd_prefix_end(std::string_view prefix);

}  // namespace keyauth
