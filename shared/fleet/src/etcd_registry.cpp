#include "keyauth/etcd_registry.hpp"

#include <algorithm>
#include <cstring>

#include "keyauth/hex.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/refusal_log.hpp"

namespace keyauth {
namespace {

std::string encoded_value(const ClientCredentials& credentials) {
    const auto encoded = encode_credentials(credentials);
    return std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size());
}

struct Stored {
    ClientRecord record;
    std::int64_t mod_revision = 0;
};

// Serializable for gen: what it reads first is a guess its transaction's
// compare checks, so only the transaction needs (and waits for) a quorum and
// a quorum lost mid-gen leaves exactly one write whose fate is unknown.
// Linearizable for del, whose "no such client" is an answer in itself.
Result<std::optional<Stored>> find_stored(EtcdClient& client, std::string_view id,
                                          bool serializable) {
    auto range = client.range(fleet_client_key(id), "", 0, 0, serializable);
    if (!range)
        return range.error();
    if (range->kvs.empty())
        return std::optional<Stored>();
    auto record = fleet_record(range->kvs.front());
    if (!record)
        return record.error();
    return std::optional<Stored>(Stored{std::move(*record), range->kvs.front().mod_revision});
}

// The client's stored record, linearizable (a change is compared with it):
// an error when the id is invalid or the client absent.
Result<Stored> find_existing(EtcdClient& client, std::string_view id) {
    if (Status s = check_client_id(id); !s)
        return s.error();
    auto stored = find_stored(client, id, false);
    if (!stored)
        return stored.error();
    if (!*stored)
        return make_error(Errc::unknown_client, "no client " + std::string(id));
    return std::move(**stored);
}

bool holds_value(const EtcdTxnResult& result, std::string_view value) {
    return result.current.size() == 1 && result.current.front().value == value;
}

// gen publishes nothing but its client: the CA (and the fleet id) are
// `init`'s, so a gen against the wrong or an empty etcd is refused instead of
// founding a fleet of its own.
Status require_fleet_ca(EtcdClient& etcd, std::string_view pem) {
    auto range = etcd.range(kFleetCaCertKey, "", 0, 0, true);
    if (!range)
        return range.error();
    if (range->kvs.empty()) {
        return make_error(Errc::not_found,
                          "etcd holds no fleet (no CA certificate): run `keytool --etcd "
                          "ENDPOINTS init` on the administrator's registry first");
    }
    if (range->kvs.front().value != pem) {
        return make_error(Errc::already_exists,
                          "the fleet in etcd has another CA certificate than this registry's: "
                          "issue from the registry holding the fleet's CA key");
    }
    return {};
}

// The registration's answer never came (timeout, member lost, no quorum):
// the write may have been applied, or may still be. Asked again in a way
// that settles it for good; only when etcd cannot answer that either is the
// outcome unknown, and then the files stay: whichever way it ends, whoever
// ran gen holds the token of any client it registered.
Status settle_registration(EtcdClient& etcd, const std::string& id, std::string_view value,
                           const Error& failed, const std::function<void()>& undeliver,
                           std::int64_t& revision) {
    auto settled = etcd.settled_get(fleet_client_key(id));
    if (!settled) {
        return make_error(
            Errc::io_error,
            "OUTCOME UNKNOWN: client " + id + " may or may not be registered: " + failed.message +
                "; asked again: " + settled.error().message +
                ". Its files are KEPT: when etcd answers again, `keytool --etcd ENDPOINTS list` "
                "shows whether " +
                id + " is registered (then these files are its credentials); if not, delete them");
    }
    if (*settled && (*settled)->value == value) {
        revision = (*settled)->mod_revision;
        return {};  // applied after all: the files are the client's
    }
    undeliver();
    return make_error(Errc::io_error, "client " + id + " not registered: " + failed.message +
                                          " (etcd checked afterwards: nothing was written)");
}

}  // namespace

bool exceeds_loss(std::size_t served, std::size_t lost, int max_loss_percent) {
    if (served == 0 || lost == 0)
        return false;
    lost = std::min(lost, served);
    return lost * 100 > static_cast<std::size_t>(std::clamp(max_loss_percent, 0, 100)) * served;
}

std::string fleet_client_key(std::string_view client_id) {
    return std::string(kFleetClientsPrefix) + std::string(client_id);
}

bool is_fleet_client_key(std::string_view key) {
    return key.substr(0, kFleetClientsPrefix.size()) == kFleetClientsPrefix;
}

std::optional<std::string> fleet_client_id(std::string_view key) {
    if (!is_fleet_client_key(key))
        return std::nullopt;
    const std::string_view id = key.substr(kFleetClientsPrefix.size());
    if (!is_valid_client_id(id))
        return std::nullopt;
    return std::string(id);
}

std::string printable_fleet_key(std::string_view key) {
    return printable_for_log(key, kFleetClientsPrefix.size() + kMaxClientIdLength);
}

Result<ClientRecord> fleet_record(const EtcdKeyValue& kv) {
    if (!is_fleet_client_key(kv.key))
        return make_error(Errc::invalid_argument,
                          "not a client key: " + printable_fleet_key(kv.key));
    ClientRecord record;
    record.id = kv.key.substr(kFleetClientsPrefix.size());
    if (Status s = check_client_id(record.id); !s)
        return make_error(Errc::registry_corrupt,
                          "etcd holds a bad client id (" + s.error().message + ")");
    if (!decode_credentials(kv.value, record.credentials))
        return make_error(Errc::registry_corrupt, "etcd record of " + record.id + " is corrupt");
    return record;
}

std::size_t FleetRecordFilter::FingerprintHash::operator()(const Fingerprint& f) const noexcept {
    // A SHA-256 digest: any of its words is as good a hash as the whole.
    std::size_t word = 0;
    std::memcpy(&word, f.bytes.data(), sizeof word);
    return word;
}

Result<ClientRecord> FleetRecordFilter::admit(const EtcdKeyValue& kv) {
    auto record = fleet_record(kv);
    if (!record)
        return record;
    if (Status s = claim(*record); !s)
        return s.error();
    return record;
}

Status FleetRecordFilter::claim(const ClientRecord& record) {
    if (!claimed_.insert(record.credentials.certificate_fingerprint).second)
        return make_error(Errc::already_exists,
                          "its certificate (" + record.credentials.certificate_fingerprint.hex() +
                              ") is an earlier client's, in id order");
    return {};
}

EtcdRegistry::EtcdRegistry(std::unique_ptr<EtcdClient> client) : client_(std::move(client)) {}

Status EtcdRegistry::find(std::string_view id, ClientCredentials& out) {
    auto stored = find_stored(*client_, id, false);
    if (!stored)
        return stored.error();
    if (!*stored)
        return make_error(Errc::unknown_client, "unknown client");
    out = (*stored)->record.credentials;
    return {};
}

Status EtcdRegistry::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                         ClientCredentials& out) {
    auto records = list();
    if (!records)
        return records.error();
    for (const ClientRecord& record : *records) {
        if (record.credentials.certificate_fingerprint == fingerprint) {
            id = record.id;
            out = record.credentials;
            return {};
        }
    }
    return make_error(Errc::unknown_client, "unknown certificate");
}

Result<std::vector<ClientRecord>> EtcdRegistry::list() {
    std::vector<ClientRecord> records;
    const std::string end = etcd_prefix_end(kFleetClientsPrefix);
    std::string from(kFleetClientsPrefix);
    // Every page at the first page's revision: etcd's header says its
    // current revision, not the one asked for, so it is taken once.
    std::int64_t at = 0;
    FleetRecordFilter filter;
    refused_ = 0;
    first_refusal_.clear();
    for (;;) {
        auto page = client_->range(from, end, at, client_->read_page());
        if (!page)
            return page.error();
        if (at == 0)
            at = page->revision;
        for (const EtcdKeyValue& kv : page->kvs) {
            auto record = filter.admit(kv);
            if (record) {
                records.push_back(std::move(*record));
            } else if (refused_++ == 0) {
                first_refusal_ = printable_fleet_key(kv.key) + ": " + record.error().message;
            }
        }
        if (!page->more || page->kvs.empty())
            break;
        from = page->kvs.back().key + '\0';
    }
    revision_ = at;
    return records;
}

std::uint64_t EtcdRegistry::generation() {
    return static_cast<std::uint64_t>(revision_);
}

Status EtcdRegistry::publish_ca_certificate(std::string_view pem) {
    auto published =
        client_->txn({{EtcdCompare::Target::create_revision, std::string(kFleetCaCertKey), 0}},
                     {{EtcdOperation::Kind::put, std::string(kFleetCaCertKey), std::string(pem)}});
    if (!published)
        return published.error();
    if (published->succeeded)
        written_revision_ = published->revision;
    if (published->succeeded || holds_value(*published, pem))
        return {};
    return make_error(Errc::already_exists,
                      "the fleet in etcd has another CA certificate than this registry's: "
                      "issue from the registry holding the fleet's CA key");
}

Result<std::string> EtcdRegistry::publish_fleet_id() {
    unsigned char random[16];
    randombytes_buf(random, sizeof random);
    const std::string fresh = to_hex(random, sizeof random);
    auto published =
        client_->txn({{EtcdCompare::Target::create_revision, std::string(kFleetIdKey), 0}},
                     {{EtcdOperation::Kind::put, std::string(kFleetIdKey), fresh}});
    if (!published)
        return published.error();
    if (published->succeeded) {
        written_revision_ = published->revision;
        return fresh;
    }
    if (published->current.size() == 1)
        return published->current.front().value;
    return make_error(Errc::io_error, "etcd: the fleet id was written and removed meanwhile");
}

Status issue_client(EtcdRegistry& registry, const CertificateAuthority& authority,
                    const IssueRequest& request, std::int64_t now, const Delivery& deliver,
                    const std::function<void()>& undeliver) {
    if (Status s = check_issue_request(request); !s)
        return s;
    EtcdClient& etcd = registry.client();
    if (Status s = require_fleet_ca(etcd, authority.certificate_pem()); !s)
        return s;
    auto stored = find_stored(etcd, request.client_id, true);
    if (!stored)
        return stored.error();
    if (*stored && !request.replace && !request.rotate_grace) {
        return make_error(Errc::already_exists, "client " + request.client_id + " already exists");
    }
    if (!*stored && request.rotate_grace)
        return make_error(Errc::unknown_client, "no client " + request.client_id);
    // Absent: created only if still absent. Replaced: only if unchanged.
    const EtcdCompare unchanged =
        *stored ? EtcdCompare{EtcdCompare::Target::mod_revision,
                              fleet_client_key(request.client_id), (*stored)->mod_revision}
                : EtcdCompare{EtcdCompare::Target::create_revision,
                              fleet_client_key(request.client_id), 0};
    auto issued = issue_credentials(authority, request, now);
    if (!issued)
        return issued.error();
    issued->record.credentials = registered_credentials(
        request, issued->record.credentials, *stored ? &(*stored)->record.credentials : nullptr,
        now);
    const std::string value = encoded_value(issued->record.credentials);
    if (Status s = deliver(*issued); !s)
        return s;
    auto written = etcd.txn(
        {unchanged}, {{EtcdOperation::Kind::put, fleet_client_key(request.client_id), value}});
    if (!written) {
        if (written.error().code == Errc::io_error)
            return settle_registration(etcd, request.client_id, value, written.error(), undeliver,
                                       registry.written_revision_);
        undeliver();
        return make_error(written.error().code, "client " + request.client_id +
                                                    " not registered: " + written.error().message);
    }
    // A retry after a lost answer finds its own write: the token hash is new.
    if (written->succeeded || holds_value(*written, value)) {
        registry.written_revision_ =
            written->succeeded ? written->revision : written->current.front().mod_revision;
        return {};
    }
    undeliver();
    return make_error(Errc::already_exists, "client " + request.client_id +
                                                " was registered or changed by someone else "
                                                "meanwhile; nothing was saved");
}

Status revoke_client(EtcdRegistry& registry, std::string_view client_id) {
    EtcdClient& etcd = registry.client();
    auto stored = find_existing(etcd, client_id);
    if (!stored)
        return stored.error();
    const std::string key = fleet_client_key(client_id);
    auto erased = etcd.txn({{EtcdCompare::Target::mod_revision, key, stored->mod_revision}},
                           {{EtcdOperation::Kind::erase, key, ""}});
    if (!erased)
        return erased.error();
    // Gone either way (a retry after a lost answer finds it gone: when, unknown).
    if (erased->succeeded || erased->current.empty()) {
        registry.written_revision_ = erased->succeeded ? erased->revision : 0;
        return {};
    }
    return make_error(Errc::already_exists,
                      "client " + std::string(client_id) + " was replaced meanwhile; not deleted");
}

Result<bool> set_client_suspended(EtcdRegistry& registry, std::string_view client_id,
                                  bool suspended) {
    EtcdClient& etcd = registry.client();
    auto stored = find_existing(etcd, client_id);
    if (!stored)
        return stored.error();
    ClientCredentials credentials = stored->record.credentials;
    if (credentials.suspended == suspended)
        return false;
    credentials.suspended = suspended;
    const std::string key = fleet_client_key(client_id);
    const std::string value = encoded_value(credentials);
    auto written = etcd.txn({{EtcdCompare::Target::mod_revision, key, stored->mod_revision}},
                            {{EtcdOperation::Kind::put, key, value}});
    if (!written)
        return written.error();
    // A retry after a lost answer finds its own write.
    if (written->succeeded || holds_value(*written, value)) {
        registry.written_revision_ =
            written->succeeded ? written->revision : written->current.front().mod_revision;
        return true;
    }
    return make_error(Errc::already_exists, "client " + std::string(client_id) +
                                                " was changed or deleted meanwhile; try again");
}

RegistryDigest::RegistryDigest() {
    crypto_hash_sha256_init(&state_);
}

void RegistryDigest::add(const ClientRecord& record) {
    const auto encoded = encode_credentials(record.credentials);
    crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(record.id.data()),
                              record.id.size());
    const unsigned char nul = 0;
    crypto_hash_sha256_update(&state_, &nul, 1);
    crypto_hash_sha256_update(&state_, encoded.data(), encoded.size());
}

std::string RegistryDigest::hex() {
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state_, out);
    return to_hex(out, sizeof out);
}

}  // namespace keyauth
