#include "replica.hpp"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <thread>

#include "keyauth/clock.hpp"
#include "keyauth/etcd_registry.hpp"
#include "replica_directory.hpp"

namespace keysync {
namespace {

using keyauth::Errc;
using keyauth::make_error;
using keyauth::Result;
using keyauth::Status;
using Clock = std::chrono::steady_clock;

// Small enough pages that a busy member answers each well within one attempt.
constexpr std::int64_t kLoadPage = 1000;
constexpr std::chrono::seconds kStaleReportEvery{30};
constexpr std::chrono::seconds kContactEvery{10};

void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));
void log_line(const char* format, ...) {
    char when[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::fprintf(stderr, "%s keyauth-sync: ", when);
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fputc('\n', stderr);
}

// A snapshot of the fleet at one revision, handed page by page to a sink.
struct Snapshot {
    std::int64_t revision = 0;
    std::optional<std::string> ca_cert;
    std::size_t clients = 0;
    std::size_t refused = 0;  // records that do not decode: left out, as absent
};

Result<Snapshot> read_snapshot(keyauth::EtcdClient& etcd, std::int64_t at,
                               const std::function<Status(const keyauth::ClientRecord&)>& sink) {
    Snapshot snapshot;
    const std::string end = keyauth::etcd_prefix_end(keyauth::kFleetPrefix);
    std::string from(keyauth::kFleetPrefix);
    for (;;) {
        auto page = etcd.range(from, end, at, kLoadPage);
        if (!page)
            return page.error();
        at = page->revision;  // every further page at the first one's revision
        for (const keyauth::EtcdKeyValue& kv : page->kvs) {
            if (kv.key == keyauth::kFleetCaCertKey) {
                snapshot.ca_cert = kv.value;
                continue;
            }
            if (!keyauth::fleet_client_id(kv.key))
                continue;
            auto record = keyauth::fleet_record(kv);
            if (!record) {
                ++snapshot.refused;
                continue;
            }
            if (Status s = sink(*record); !s)
                return s.error();
            ++snapshot.clients;
        }
        if (!page->more || page->kvs.empty())
            break;
        from = page->kvs.back().key + '\0';
    }
    snapshot.revision = at;
    return snapshot;
}

std::string decimal(std::int64_t value) {
    return std::to_string(value);
}

}  // namespace

struct Replica::State {
    keyauth::EtcdClient& etcd;
    ReplicaOptions options;
    std::unique_ptr<keyauth::LmdbRegistry> registry;
    std::int64_t revision = 0;  // what the registry holds (0: nothing yet)
    std::int64_t last_contact = 0;
    Clock::time_point next_digest;
    Clock::time_point last_stale_report;
    bool unreachable = false;
    bool must_rebuild = false;
    Clock::duration load_time{};

    State(keyauth::EtcdClient& e, ReplicaOptions o) : etcd(e), options(std::move(o)) {}

    Status open() {
        registry.reset();
        auto opened =
            keyauth::LmdbRegistry::open(options.layout.dir, keyauth::OpenMode::read_write);
        if (!opened)
            return opened.error();
        registry = std::move(*opened);
        auto writer = registry->begin_write();
        if (!writer)
            return writer.error();
        auto stored = (*writer)->find_meta(keyauth::kReplicaRevisionMeta);
        if (!stored)
            return stored.error();
        revision = *stored ? std::strtoll((*stored)->c_str(), nullptr, 10) : 0;
        auto contact = (*writer)->find_meta(keyauth::kReplicaContactMeta);
        if (contact && *contact)
            last_contact = std::strtoll((*contact)->c_str(), nullptr, 10);
        return {};
    }

    // Everything at one revision, in one transaction with that revision.
    static Result<Snapshot> load_into(keyauth::LmdbRegistry& target, keyauth::EtcdClient& etcd) {
        auto writer = target.begin_write();
        if (!writer)
            return writer.error();
        if (Status s = (*writer)->erase_all(); !s)
            return s.error();
        auto snapshot = read_snapshot(etcd, 0, [&](const keyauth::ClientRecord& record) {
            return (*writer)->put(record, false);
        });
        if (!snapshot)
            return snapshot;
        const std::int64_t now = keyauth::unix_now();
        if (Status s =
                (*writer)->put_meta(keyauth::kReplicaRevisionMeta, decimal(snapshot->revision));
            !s)
            return s.error();
        if (Status s = (*writer)->put_meta(keyauth::kReplicaContactMeta, decimal(now)); !s)
            return s.error();
        if (Status s = (*writer)->commit(); !s)
            return s.error();
        return snapshot;
    }

    Status after_load(const Snapshot& snapshot, const char* how) {
        revision = snapshot.revision;
        last_contact = keyauth::unix_now();
        if (snapshot.ca_cert) {
            if (Status s = install_ca_certificate(options.layout, *snapshot.ca_cert); !s)
                return s;
        }
        log_line("%s %zu clients at etcd revision %lld in %.3f s%s", how, snapshot.clients,
                 static_cast<long long>(revision), std::chrono::duration<double>(load_time).count(),
                 snapshot.refused ? " (some corrupt records left out)" : "");
        return {};
    }

    Status load_in_place() {
        const auto started = Clock::now();
        auto snapshot = load_into(*registry, etcd);
        load_time = Clock::now() - started;
        if (!snapshot)
            return snapshot.error();
        return after_load(*snapshot, "loaded");
    }

    Status rebuild() {
        const auto started = Clock::now();
        Snapshot loaded;
        registry.reset();
        Status built = rebuild_registry(options.layout, [&](keyauth::LmdbRegistry& fresh) {
            auto snapshot = load_into(fresh, etcd);
            if (!snapshot)
                return snapshot.status();
            loaded = std::move(*snapshot);
            return Status();
        });
        if (Status s = open(); !s)
            return s;
        if (!built)
            return built;
        must_rebuild = false;
        load_time = Clock::now() - started;
        return after_load(loaded, "rebuilt the registry with");
    }

    // One watch response: every event and the revision, one transaction.
    Status apply(const keyauth::EtcdWatchBatch& batch) {
        if (batch.events.empty())
            return {};
        auto writer = registry->begin_write();
        if (!writer)
            return writer.error();
        std::int64_t at = revision;
        std::optional<std::string> ca_cert;
        for (const keyauth::EtcdEvent& event : batch.events) {
            at = std::max(at, event.kv.mod_revision);
            if (event.kv.key == keyauth::kFleetCaCertKey) {
                if (!event.deleted)
                    ca_cert = event.kv.value;
                continue;
            }
            auto id = keyauth::fleet_client_id(event.kv.key);
            if (!id)
                continue;
            auto record = event.deleted ? Result<keyauth::ClientRecord>(
                                              keyauth::make_error(Errc::unknown_client, "deleted"))
                                        : keyauth::fleet_record(event.kv);
            if (record) {
                if (Status s = (*writer)->put(*record, true); !s)
                    return s;
                continue;
            }
            // Deleted, or corrupt in etcd: absent here either way.
            if (!event.deleted)
                log_line("etcd record of %s refused: %s", id->c_str(),
                         record.error().message.c_str());
            Status erased = (*writer)->erase(*id);
            if (!erased && erased.code() != Errc::unknown_client)
                return erased;
        }
        if (Status s = (*writer)->put_meta(keyauth::kReplicaRevisionMeta, decimal(at)); !s)
            return s;
        const std::int64_t now = keyauth::unix_now();
        if (Status s = (*writer)->put_meta(keyauth::kReplicaContactMeta, decimal(now)); !s)
            return s;
        if (Status s = (*writer)->commit(); !s)
            return s;
        revision = at;
        last_contact = now;
        if (ca_cert)
            return install_ca_certificate(options.layout, *ca_cert);
        return {};
    }

    // A linearizable read: proof that etcd has a quorum and answers us. It
    // reads the CA certificate, so a change whose file write a crash cut
    // short (the file is written after the commit) is made good here.
    Result<std::int64_t> heartbeat() {
        auto range = etcd.range(keyauth::kFleetCaCertKey, "");
        if (!range)
            return range.error();
        if (range->kvs.size() == 1 && range->kvs.front().mod_revision <= revision) {
            if (Status s = install_ca_certificate(options.layout, range->kvs.front().value); !s)
                return s.error();
        }
        const std::int64_t now = keyauth::unix_now();
        // Every commit moves commit.seq, and the broker re-checks its live
        // sessions when it does: contact alone is recorded sparingly.
        if (now - last_contact >= kContactEvery.count()) {
            auto writer = registry->begin_write();
            if (!writer)
                return writer.error();
            if (Status s = (*writer)->put_meta(keyauth::kReplicaContactMeta, decimal(now)); !s)
                return s.error();
            if (Status s = (*writer)->commit(); !s)
                return s.error();
            last_contact = now;
        }
        return range->revision;
    }

    // Local digest and etcd's at the local revision; nullopt if etcd can no
    // longer serve that revision (compacted: the watch will tell).
    Result<std::optional<std::pair<std::string, std::string>>> digests() {
        auto local = registry->list();
        if (!local)
            return local.error();
        keyauth::RegistryDigest remote;
        auto snapshot = read_snapshot(etcd, revision, [&](const keyauth::ClientRecord& record) {
            remote.add(record);
            return Status();
        });
        if (!snapshot) {
            if (snapshot.error().code == Errc::not_found)
                return std::optional<std::pair<std::string, std::string>>();
            return snapshot.error();
        }
        return std::optional<std::pair<std::string, std::string>>(
            std::make_pair(keyauth::registry_digest(*local), remote.hex()));
    }

    void report_unreachable(const keyauth::Error& error) {
        const auto now = Clock::now();
        if (last_contact == 0) {
            if (!unreachable)
                log_line("etcd unreachable (%s); nothing loaded yet", error.message.c_str());
            unreachable = true;
            return;
        }
        const long long stale = static_cast<long long>(keyauth::unix_now() - last_contact);
        if (!unreachable) {
            unreachable = true;
            last_stale_report = now;
            log_line("etcd unreachable (%s); serving revision %lld, last contact %lld s ago",
                     error.message.c_str(), static_cast<long long>(revision), stale);
        } else if (now - last_stale_report >= kStaleReportEvery) {
            last_stale_report = now;
            log_line("still no etcd (%s): STALE for %lld s at revision %lld", error.message.c_str(),
                     stale, static_cast<long long>(revision));
        }
    }

    void report_reachable() {
        if (unreachable) {
            unreachable = false;
            log_line("etcd reachable again at %s; at revision %lld", etcd.endpoint().c_str(),
                     static_cast<long long>(revision));
        }
    }
};

Replica::Replica(keyauth::EtcdClient& etcd, ReplicaOptions options)
    : state_(std::make_unique<State>(etcd, std::move(options))) {}
Replica::~Replica() = default;

Status Replica::run(const std::function<bool()>& should_stop) {
    State& s = *state_;
    remove_rebuild_leftovers(s.options.layout);
    if (Status opened = prepare_registry(s.options.layout, s.options.group); !opened)
        return opened;
    if (Status opened = s.open(); !opened)
        return opened;
    if (s.revision > 0)
        log_line("resuming at etcd revision %lld", static_cast<long long>(s.revision));
    s.next_digest = Clock::now() + s.options.digest_interval;
    auto backoff = std::chrono::milliseconds(100);
    const auto pause = [&] {
        for (auto slept = std::chrono::milliseconds(0); slept < backoff && !should_stop();
             slept += std::chrono::milliseconds(50))
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    };
    const std::string end = keyauth::etcd_prefix_end(keyauth::kFleetPrefix);

    while (!should_stop()) {
        Status step;
        if (s.must_rebuild)
            step = s.rebuild();
        else if (s.revision == 0)
            step = s.load_in_place();
        if (!step) {
            if (step.code() != Errc::io_error && step.code() != Errc::not_found)
                return step;  // the registry itself refuses: nothing to retry
            s.report_unreachable(step.error());
            pause();
            continue;
        }
        if (s.revision == 0)
            continue;
        if (s.options.once) {
            auto current = s.heartbeat();
            if (current && s.revision >= *current)
                return {};
        }

        Status applied;
        Status watched = s.etcd.watch(
            keyauth::kFleetPrefix, end, s.revision + 1,
            [&](const keyauth::EtcdWatchBatch& batch) {
                if (batch.compact_revision > 0) {
                    log_line("etcd compacted past revision %lld (to %lld): rebuilding",
                             static_cast<long long>(s.revision),
                             static_cast<long long>(batch.compact_revision));
                    s.must_rebuild = true;
                    return false;
                }
                applied = s.apply(batch);
                return applied.ok() && !batch.canceled;
            },
            s.options.session, should_stop);
        if (!applied)
            return applied;  // the local registry failed us: let the supervisor restart
        if (s.must_rebuild || should_stop())
            continue;
        auto current = watched ? s.heartbeat() : Result<std::int64_t>(watched.error());
        if (!current) {
            if (current.error().code != Errc::io_error)
                return current.status();
            s.report_unreachable(current.error());
            pause();
            continue;
        }
        s.report_reachable();
        backoff = std::chrono::milliseconds(100);
        if (*current < s.revision) {
            // Restored from an older snapshot, or a new cluster: our
            // revision means nothing there, and the watch would wait for it.
            log_line(
                "etcd is at revision %lld, behind this replica's %lld (restored or "
                "replaced): rebuilding",
                static_cast<long long>(*current), static_cast<long long>(s.revision));
            s.must_rebuild = true;
            continue;
        }
        if (s.options.once && s.revision >= *current)
            return {};
        if (Clock::now() >= s.next_digest) {
            s.next_digest = Clock::now() + s.options.digest_interval;
            auto pair = s.digests();
            if (!pair)
                log_line("digest check failed: %s", pair.error().message.c_str());
            if (pair && *pair && (*pair)->first != (*pair)->second) {
                log_line("digest mismatch at revision %lld (local %s, etcd %s): rebuilding",
                         static_cast<long long>(s.revision), (*pair)->first.c_str(),
                         (*pair)->second.c_str());
                s.must_rebuild = true;
            }
        }
    }
    return {};
}

keyauth::Result<bool> Replica::check(std::string& report) {
    State& s = *state_;
    if (Status opened = s.open(); !opened)
        return opened.error();
    auto pair = s.digests();
    if (!pair)
        return pair.error();
    if (!*pair)
        return make_error(Errc::not_found,
                          "etcd has compacted revision " + decimal(s.revision) + " away");
    report =
        "revision " + decimal(s.revision) + " local " + (*pair)->first + " etcd " + (*pair)->second;
    return (*pair)->first == (*pair)->second;
}

}  // namespace keysync
