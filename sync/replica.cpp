#include "replica.hpp"

#include <malloc.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <unordered_set>
#include <vector>

#include "keyauth/audit.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/etcd_registry.hpp"
#include "keyauth/files.hpp"
#include "keyauth/registry_reader.hpp"
#include "keyauth/replica_contact.hpp"
#include "replica_directory.hpp"
#include "snapshot.hpp"

namespace keysync {
namespace {

using keyauth::Errc;
using keyauth::make_error;
using keyauth::Result;
using keyauth::Status;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kStaleReportEvery{30};
// How often contact is recorded for `keytool status` (in a file, not LMDB:
// keyauth/replica_contact.hpp), which calls a host stale after 30 s.
constexpr std::chrono::seconds kContactEvery{10};
// How often a held replica reads etcd again, in case it was restored.
constexpr std::chrono::milliseconds kHeldRetry{5000};
// Puts per transaction when restoring etcd: under its --max-txn-ops (128).
constexpr std::size_t kRestoreBatch = 100;
// How long one of the watcher's watches lasts before the next one starts
// where it stopped (a stream that died silently is not waited on for ever);
// a stop is seen within 20 ms whatever this is.
constexpr std::chrono::milliseconds kFollowSession{10000};
// A watch answers a revision whole: a `del --prefix` of a million clients is
// one response, whose first byte etcd's JSON gateway sent 45 s after the
// watch began (BENCHMARKS.md). A session ended before it would be watched
// again and cut again, the host stalled while it reported contact: after a
// session that brought nothing while etcd is ahead, the next lasts twice as
// long, up to this (a stream that died while a change waits: found in it).
constexpr std::chrono::milliseconds kFollowSessionMost{160000};
// Clients per transaction of a load or rebuild (into a directory no server
// reads yet): LMDB holds a transaction's pages in memory until its commit.
// A client dirties at most one leaf of each table, and the fingerprints
// come in no order: a transaction of 16384 holds ~70 MB at most, however
// large the registry (one transaction of everything: ~290 MB at a million).
// Fewer make more commits rewrite the same fingerprint leaves.
constexpr std::size_t kClientsPerCommit = 16384;
// Another process holds writer.lock past a writer's wait (5 s): a keytool
// stopped by Ctrl-Z inside a command. The change is kept and tried again
// after this pause, doubled while it stays busy.
constexpr std::chrono::milliseconds kBusyRetryFirst{250};
constexpr std::chrono::milliseconds kBusyRetryMost{5000};
// A rebuild's lookups in the index served (which clients it would keep) let
// go of the pages they mapped this often. Its id table is probed at random:
// kept mapped, all of lookup.idx stayed resident (+130 MB at a million
// clients); let go too often, each probe maps its pages again (+5 s of CPU
// at 256 probes).
constexpr std::size_t kProbesBetweenHandBacks = 4096;


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

// What etcd says of itself at a heartbeat.
struct EtcdIdentity {
    std::int64_t revision = 0;
    std::string cluster_id;
    std::string fleet_id;
    // The replica's revision before etcd was read (the watcher may have
    // applied later changes since): never above `revision` in the same store.
    std::int64_t local_revision = 0;
};

std::string decimal(std::int64_t value) {
    return std::to_string(value);
}

// Whatever etcd holds at a key that is not a client this registry can hold
// (a bad id, a corrupt value, a certificate an earlier client holds) is
// refused as a snapshot refuses it: said once, its id's copy here erased
// (fail closed for it), and the batch goes on. Only the registry failing
// fails the watcher: one bad record must not stop every change after it.
void say_refused(std::string_view key, const std::string& why) {
    log_line("etcd record %s refused: %s", keyauth::printable_fleet_key(key).c_str(), why.c_str());
}

// After a whole read of etcd (a digest, a load, a rebuild): glibc keeps
// the small blocks it freed (the digest's set of certificates, parsed
// pages) in its arenas, ~65 MB after a digest at a million clients, unless
// asked to give them back.
void give_back_freed_memory() {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

Status erase_if_present(keyauth::RegistryWriter& writer, const std::string& id) {
    Status erased = writer.erase(id);
    if (!erased && erased.code() != Errc::unknown_client)
        return erased;
    return {};
}

// A certificate admits one client: of the records holding it, the first in
// id order, as keyauth::FleetRecordFilter keeps from a snapshot; here the
// registry's index names the one kept so far. A later one is refused; an
// earlier one takes the certificate, and the client that held it is refused.
Status put_first_claimant(keyauth::RegistryWriter& writer, const keyauth::ClientRecord& record) {
    auto holder = writer.fingerprint_owner(record.credentials.certificate_fingerprint);
    if (!holder)
        return holder.error();
    if (*holder && **holder != record.id) {
        if (**holder < record.id) {
            say_refused(keyauth::fleet_client_key(record.id),
                        "its certificate is " + **holder + "'s, earlier in id order");
            return erase_if_present(writer, record.id);
        }
        say_refused(keyauth::fleet_client_key(**holder),
                    "its certificate is " + record.id + "'s too, earlier in id order");
        if (Status s = writer.erase(**holder); !s)
            return s;
    }
    return writer.put(record, true);
}

// A snapshot's record a registry filled in id order refused (`refused`,
// Errc::already_exists): its certificate is an earlier record's, whose
// client the index names, and the record is refused; with no such client
// the registry's error stands. The fill's own judge of the first claimant:
// the same as keyauth::FleetRecordFilter's, without a set of every certificate.
Result<RecordVerdict> claimed_earlier(keyauth::RegistryWriter& filling,
                                      const keyauth::ClientRecord& record, Status refused) {
    auto holder = filling.fingerprint_owner(record.credentials.certificate_fingerprint);
    if (!holder)
        return holder.error();
    if (!*holder)
        return refused.error();
    return RecordVerdict::refusal("its certificate is " + **holder + "'s, earlier in id order");
}

// Changes from etcd into one transaction: `at` moves to the last one's
// revision; a new CA certificate is handed back, to be installed after the
// commit.
Status apply_events(keyauth::RegistryWriter& writer, const std::vector<keyauth::EtcdEvent>& events,
                    std::int64_t& at, std::optional<std::string>& ca_cert) {
    for (const keyauth::EtcdEvent& event : events) {
        at = std::max(at, event.kv.mod_revision);
        if (event.kv.key == keyauth::kFleetCaCertKey) {
            if (!event.deleted)
                ca_cert = event.kv.value;
            continue;
        }
        if (!keyauth::is_fleet_client_key(event.kv.key))
            continue;
        if (!event.deleted) {
            auto record = keyauth::fleet_record(event.kv);
            if (record) {
                if (Status s = put_first_claimant(writer, *record); !s)
                    return s;
                continue;
            }
            say_refused(event.kv.key, record.error().message);
        }
        // Deleted, or refused: absent here either way (an invalid id never is).
        if (auto id = keyauth::fleet_client_id(event.kv.key)) {
            if (Status s = erase_if_present(writer, *id); !s)
                return s;
        }
    }
    return {};
}

// What the registry served does while a snapshot is read beside it.
enum class Follow {
    // The same store, its history unbroken from the registry's revision:
    // every change, each committed with its revision, as the watch does.
    all,
    // The same store, its history compacted past the registry's revision:
    // deletes only, the revision left as it was. A delete only ever refuses
    // more, so it is safe on any state; a put on a state missing history is not.
    deletes,
    // HELD, the same store (its cluster and fleet id): its deletes still, a
    // revision at a time, the revision left as it was, so that a revocation
    // made while a host is held reaches it. Never a revision deleting more
    // than --max-loss at once (the hold's own mass delete, seen again after
    // a restart, or another), nothing from a new fleet id on, and no put: a
    // held host admits nothing it did not admit before the hold.
    held_deletes,
    // Another store, or none known: the registry served is left as it is.
    none,
};

// The one watch of the registry served: its own thread and its own etcd
// connection, from the first heartbeat on, so that no change waits for the
// loop's thread (a heartbeat, a digest check, a rebuild reading a snapshot
// for seconds, or minutes with a million clients). It applies each change
// as it comes (as `mode` says) and, while a rebuild reads, records every
// change, which the new registry applies before it is swapped in: a rebuild
// never serves a state older than the one it replaces.
// All but `stop`, `restart` and the recorded changes are guarded by
// State::serving.
struct Watcher {
    Follow mode = Follow::all;
    std::int64_t from = 0;  // the next revision to ask for
    // Bumped to start the watch again at `from` (another store): what the
    // old watch still delivers is dropped.
    std::uint64_t epoch = 0;
    bool recording = false;
    std::int64_t at = 0;    // recording: the snapshot's revision (0: not read yet)
    bool complete = true;   // recording: nothing after `at` was missed
    std::size_t taken = 0;  // recorded changes taken (the loop's thread only)
    Status failed;          // the registry served refused a change
    // The registry served was busy (Errc::busy): the watch ended, to start
    // again from the first change not applied after this pause (0: not busy).
    std::chrono::milliseconds busy_pause{0};
    // Recording: the last revision recorded, so that a change a watch
    // started again after a busy registry delivers twice is recorded once.
    std::int64_t recorded_through = 0;
    std::thread thread;
    std::atomic<bool> stop{false};
    std::atomic<bool> restart{false};
    std::mutex recorded_mutex;
    std::vector<keyauth::EtcdEvent> recorded;

    Watcher() = default;
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;
    ~Watcher() { finish(); }
    void record(const keyauth::EtcdEvent& event) {
        std::lock_guard<std::mutex> lock(recorded_mutex);
        recorded.push_back(event);
    }
    bool has_recorded() {
        std::lock_guard<std::mutex> lock(recorded_mutex);
        return !recorded.empty();
    }
    std::vector<keyauth::EtcdEvent> take() {
        std::lock_guard<std::mutex> lock(recorded_mutex);
        std::vector<keyauth::EtcdEvent> events;
        events.swap(recorded);
        taken += events.size();
        return events;
    }
    void finish() {
        stop = true;
        if (thread.joinable())
            thread.join();
    }
};

}  // namespace

struct Replica::State {
    keyauth::EtcdClient& etcd;
    ReplicaOptions options;
    // run()'s loop_alive, called between the pages of a whole read of etcd
    // too (a load, a rebuild, a digest: a minute at a million clients), so
    // that systemd's watchdog sees the loop alive through it. A stop still
    // waits for the read.
    std::function<void()> loop_alive = [] {};
    Status between_pages() const {
        loop_alive();
        return {};
    }
    std::unique_ptr<keyauth::LmdbRegistry> registry;
    std::int64_t revision = 0;  // what the registry holds (0: nothing yet)
    std::string cluster_id;     // whose revision it is
    std::string fleet_id;
    std::size_t local_clients = 0;
    std::int64_t last_contact = 0;  // recorded, in LMDB or the contact file
    std::string held;               // why a rebuild is refused (empty: not held)
    Clock::time_point next_digest;
    Clock::time_point last_stale_report;
    Clock::time_point last_contact_failure_report;
    // When the contact file was last written: every kContactEvery, whether
    // or not commits (which carry contact in LMDB) came between.
    std::optional<Clock::time_point> contact_file_written;
    Clock::time_point last_held_report;
    bool unreachable = false;
    bool must_rebuild = false;
    // What the registry served does during the next rebuild: follows every
    // change when it is asked for from the store this copy follows (SIGUSR1,
    // a digest mismatch), deletes only after a compaction. Never anything
    // from another store, whose revisions and deletes mean nothing here.
    Follow rebuild_follow = Follow::none;
    // The watcher's own connection (an EtcdClient serves one thread).
    std::unique_ptr<keyauth::EtcdClient> follower_etcd;
    std::int64_t digest_revision = 0;  // the revision the last digest check compared
    Clock::duration load_time{};
    // What the registry served is (registry, revision, local_clients,
    // last_contact, held, must_rebuild, rebuild_follow) changes under it
    // only, by the watcher's thread or the loop's. The loop's thread holds it
    // (loop_lock) except while it waits for etcd, reads a snapshot into a
    // new registry, or sleeps: see unlocked().
    std::mutex serving;
    std::unique_lock<std::mutex> loop_lock{serving, std::defer_lock};
    // Set by the watcher when the loop must look: a rebuild, a hold, a failure.
    std::atomic<bool> wake{false};
    // Since when a change from etcd waits for writer.lock, which another
    // process holds (said once, and when it is through). Meanwhile no
    // contact is recorded: `keytool status` calls the host stale rather
    // than current, and no digest is checked (LMDB cannot be read).
    std::optional<Clock::time_point> busy_since;
    // The last rebuild is read again at once: etcd is there, but changed in
    // a way its watcher must not decide.
    bool read_again = false;
    // The audit trail's lines for changes applied, made under `serving` and
    // sent without it (a slow syslog must not hold up the watcher).
    std::vector<keyauth::AuditEvent> audits;
    std::string refused_ca_cert;  // etcd's, not installed (said once)
    // DIR/sync.lock, held for the run (lock_replica); a swap hands over the
    // new directory's.
    keyauth::UniqueFd replica_lock;
    // A rebuild's registry, filled beside the one served (DIR.rebuild.XXXXXX),
    // not swapped in yet.
    struct Filled {
        BuiltRegistry built;  // where, and its lock
        Snapshot snapshot;    // its revision: what it holds
        Clock::time_point started;
        bool was_held = false;
        std::function<Status()> still_replaceable;
    };
    // Kept while writer.lock was busy at its exchange (exchange_filled): at
    // a million clients, a fill is a minute of etcd's reads.
    std::optional<Filled> filled;
    // Last: stopped before the rest goes.
    std::unique_ptr<Watcher> watcher;

    State(keyauth::EtcdClient& e, ReplicaOptions o) : etcd(e), options(std::move(o)) {}

    SyncMetrics& metrics() { return *options.metrics; }

    // What the registry served is, for the metrics (under `serving`).
    void publish_state() {
        metrics().applied_revision = revision;
        metrics().clients = static_cast<std::int64_t>(local_clients);
        metrics().held = !held.empty();
    }

    // Runs `work` (etcd, a snapshot into a new registry, a sleep) with
    // `serving` released, so that the watcher applies changes meanwhile.
    template <class Work>
    auto unlocked(Work&& work) {
        struct Relock {
            std::unique_lock<std::mutex>* lock;
            ~Relock() {
                if (lock && !lock->owns_lock())
                    lock->lock();
            }
        } relock{loop_lock.owns_lock() ? &loop_lock : nullptr};
        if (relock.lock)
            loop_lock.unlock();
        return work();
    }

    static std::string meta(keyauth::RegistryWriter& writer, std::string_view key) {
        auto value = writer.find_meta(key);
        return value && *value ? **value : std::string();
    }

    // The registry opened (again), its progress read; on failure none is
    // held (`registry` null: a half-open one is not served) and the watcher
    // follows nothing, so nothing touches it until the loop ends.
    Status open() {
        Status opened = open_registry();
        if (!opened) {
            registry.reset();
            if (watcher)
                watcher->mode = Follow::none;
        }
        return opened;
    }

    Status open_registry() {
        registry.reset();
        auto opened =
            keyauth::LmdbRegistry::open(options.layout.dir, keyauth::OpenMode::read_write);
        if (!opened)
            return opened.error();
        registry = std::move(*opened);
        // Its walks (a digest, a restore) are one-shot: kept, their pages of
        // data.mdb stayed mapped after each, ~370 MB at a million clients.
        registry->set_walked_pages(keyauth::WalkedPages::handed_back);
        {
            auto writer = registry->begin_write();  // read, never committed
            if (!writer)
                return writer.error();
            auto stored = (*writer)->find_meta(keyauth::kReplicaRevisionMeta);
            if (!stored)
                return stored.error();
            auto contact = (*writer)->find_meta(keyauth::kReplicaContactMeta);
            if (!contact)
                return contact.error();
            // No commit while the writer lives: the file is judged against
            // the very state read.
            const keyauth::ReplicaProgress progress = keyauth::replica_progress(
                options.layout, *stored, *contact, registry->generation());
            revision = progress.revision;
            last_contact = progress.contact;
            if (!progress.contact_file_refused.empty())
                log_line("contact file ignored (replaced at the next heartbeat): %s",
                         progress.contact_file_refused.c_str());
            cluster_id = meta(**writer, keyauth::kReplicaClusterMeta);
            fleet_id = meta(**writer, keyauth::kReplicaFleetIdMeta);
            held = meta(**writer, keyauth::kReplicaHeldMeta);
        }
        auto count = registry->count();
        if (!count)
            return count.error();
        local_clients = *count;
        publish_state();
        return {};
    }

    // Why replacing what this host serves with `snapshot` is refused (empty:
    // it is not): it would lose more than --max-loss of the clients served
    // now. An emptied or replaced etcd must not empty every host with it.
    std::string loss_refusal(std::size_t kept, std::size_t serving, std::int64_t serving_revision,
                             const Snapshot& snapshot) const {
        const std::size_t lost = serving - std::min(kept, serving);
        if (options.accept_new_fleet ||
            !keyauth::exceeds_loss(serving, lost, options.max_loss_percent))
            return {};
        return "a rebuild from etcd (cluster " + snapshot.cluster_id + ", fleet id '" +
               snapshot.fleet_id + "', revision " + decimal(snapshot.revision) + ", " +
               std::to_string(snapshot.clients) + " clients) would remove " +
               std::to_string(lost) + " of the " + std::to_string(serving) +
               " clients this host serves (more than --max-loss " +
               std::to_string(options.max_loss_percent) +
               "%): refused; serving revision " + decimal(serving_revision) +
               " as it was. If etcd was replaced or emptied on purpose: keyauth-sync "
               "--accept-new-fleet; to restore etcd from this host: docs/FLEET.md";
    }

    // Everything at one revision into `target`, a registry no server reads
    // yet (rebuild_registry's), kClientsPerCommit clients a transaction; the
    // last one holds that revision and the store it came from, and its
    // lookup.idx is filled once, at the end. `known` counts the clients
    // kept, and nothing more is committed if loss_refusal says so (the
    // directory goes with the failed fill). With `recording` (the watcher,
    // recording since before the snapshot's revision `at`), the changes
    // after `at` are applied after the snapshot, in the last transaction,
    // and the revision committed is the last one's. `served`: the clients
    // served now (at `serving_revision`), for loss_refusal.
    // The changes recorded after the snapshot's revision, into `into`.
    static Status catch_up(keyauth::RegistryWriter& into, Watcher& recording, Snapshot& snapshot) {
        std::vector<keyauth::EtcdEvent> after;
        for (keyauth::EtcdEvent& event : recording.take()) {
            // Recording began before the snapshot's revision was read: what
            // it holds up to that revision is in the snapshot already.
            if (event.kv.mod_revision > snapshot.revision)
                after.push_back(std::move(event));
        }
        std::optional<std::string> ca_cert;
        if (Status s = apply_events(into, after, snapshot.revision, ca_cert); !s)
            return s;
        if (ca_cert)
            snapshot.ca_cert = std::move(ca_cert);
        return {};
    }

    // What was recorded since the last catch-up, in a transaction of its own
    // (none when nothing was).
    static Status commit_recorded(keyauth::LmdbRegistry& target, Watcher& recording,
                                  Snapshot& snapshot) {
        if (!recording.has_recorded())
            return {};
        auto writer = target.begin_write();
        if (!writer)
            return writer.error();
        if (Status s = catch_up(**writer, recording, snapshot); !s)
            return s;
        if (Status s = (*writer)->put_meta(keyauth::kReplicaRevisionMeta, decimal(snapshot.revision));
            !s)
            return s;
        return (*writer)->commit();
    }

    Result<Snapshot> read_and_commit(keyauth::LmdbRegistry& target, std::int64_t at,
                                     const std::function<bool(const keyauth::ClientRecord&)>& known,
                                     std::size_t served, std::int64_t serving_revision,
                                     Watcher* recording, std::string& refusal) {
        target.begin_fill();
        auto writer = target.begin_write();
        if (!writer)
            return writer.error();
        if (Status s = (*writer)->erase_all(); !s)
            return s.error();
        std::size_t kept = 0;
        std::size_t uncommitted = 0;
        auto snapshot = read_snapshot(
            etcd, at,
            [&](const keyauth::ClientRecord& record) -> Result<RecordVerdict> {
                if (Status s = (*writer)->put(record, false); !s) {
                    if (s.code() != Errc::already_exists)
                        return s.error();
                    return claimed_earlier(**writer, record, s);
                }
                if (known(record))
                    ++kept;
                if (++uncommitted < kClientsPerCommit)
                    return RecordVerdict::taken();
                uncommitted = 0;
                if (Status s = (*writer)->commit(); !s)
                    return s.error();
                writer->reset();  // its write lock let go before the next one's
                writer = target.begin_write();
                if (!writer)
                    return writer.error();
                return RecordVerdict::taken();
            },
            [this] { return between_pages(); });
        if (!snapshot)
            return snapshot;
        refusal = loss_refusal(kept, served, serving_revision, *snapshot);
        if (!refusal.empty())
            return snapshot;  // the rest not committed: the directory is removed
        if (recording) {
            if (Status s = catch_up(**writer, *recording, *snapshot); !s)
                return s.error();
        }
        const std::int64_t now = keyauth::unix_now();
        const std::pair<std::string_view, std::string> metas[] = {
            {keyauth::kReplicaRevisionMeta, decimal(snapshot->revision)},
            {keyauth::kReplicaContactMeta, decimal(now)},
            {keyauth::kReplicaClusterMeta, snapshot->cluster_id},
            {keyauth::kReplicaFleetIdMeta, snapshot->fleet_id},
            {keyauth::kReplicaHeldMeta, ""},
        };
        for (const auto& [key, value] : metas) {
            if (Status s = (*writer)->put_meta(key, value); !s)
                return s.error();
        }
        if (Status s = (*writer)->commit(); !s)
            return s.error();
        writer->reset();
        if (Status s = target.finish_fill(); !s)
            return s.error();
        return snapshot;
    }

    // The next digest check, after one that read etcd whole (or a load,
    // which did too): --digest-interval, or ten times that read if longer,
    // so that at a million clients (a read of minutes) comparing never
    // takes more than a tenth of etcd's time, nor starts again at once.
    // Never more than six hours apart, however slow a read was.
    void schedule_digest(Clock::duration whole_read) {
        const Clock::duration wait =
            std::max<Clock::duration>(options.digest_interval, 10 * whole_read);
        next_digest = Clock::now() + std::min<Clock::duration>(wait, std::max<Clock::duration>(
                                                                          options.digest_interval,
                                                                          std::chrono::hours(6)));
    }

    Status after_load(const Snapshot& snapshot, const char* how) {
        schedule_digest(load_time);  // the snapshot just read is as good as a digest
        revision = snapshot.revision;
        cluster_id = snapshot.cluster_id;
        fleet_id = snapshot.fleet_id;
        local_clients = snapshot.clients;
        last_contact = keyauth::unix_now();
        if (options.accept_new_fleet)
            log_line("new fleet accepted by the operator");
        held.clear();
        publish_state();
        options.accept_new_fleet = false;  // once: a later accident is refused again
        // The file a load dropped (or a rebuild's new directory lacks), at
        // once: the registry's group reads nothing else.
        record_contact(last_contact);
        if (snapshot.ca_cert) {
            if (Status s = install_ca(*snapshot.ca_cert); !s)
                return s;
        }
        log_line("%s %zu clients at etcd revision %lld (cluster %s) in %.3f s", how,
                 snapshot.clients, static_cast<long long>(revision), cluster_id.c_str(),
                 std::chrono::duration<double>(load_time).count());
        for (const auto& [key, why] : snapshot.refusals)
            say_refused(key, why);
        if (snapshot.refused > snapshot.refusals.size())
            log_line("and %zu more etcd records refused",
                     snapshot.refused - snapshot.refusals.size());
        return {};
    }

    // Into an empty registry (nothing to lose), built beside it and swapped
    // in as a rebuild is: the servers, keytool and `current` see no client
    // until they see them all, and a load that dies leaves only leftovers.
    // The new directory has no contact file: its last commit holds the contact.
    // keytool does not refuse a registry without a revision (an empty one
    // before its first load, or one keytool made): what it commits while
    // the replacement is filled beside it must not be thrown away by the
    // exchange. The servers' commit sequence, read before the fill and
    // again under the old registry's lock just before the exchange: if it
    // moved, the exchange is refused and the registry rebuilt, which counts
    // what that would drop.
    std::uint64_t served_commits() const {
        auto served = keyauth::RegistryReader::open(options.layout.dir);
        return served ? (*served)->commit_sequence() : 0;
    }
    std::function<Status()> unwritten_since(std::uint64_t commits) {
        return [this, commits]() -> Status {
            if (served_commits() == commits)
                return {};
            must_rebuild = true;
            read_again = true;
            return make_error(Errc::io_error, "keytool changed " + options.layout.dir +
                                                  " while keyauth-sync filled its replacement "
                                                  "from etcd: rebuilding it again, counting what "
                                                  "that would drop");
        };
    }

    // Right after the exchange (a load's or a rebuild's, `started` when it
    // began): servers still on the old index follow the path at once, and
    // the new registry is opened.
    Status swap_in(Clock::time_point started) {
        registry->retire_for_readers();
        load_time = Clock::now() - started;
        return open();
    }

    Status load() {
        const auto started = Clock::now();
        Snapshot loaded;
        std::string refusal;
        Status swapped_in = make_error(Errc::io_error, "not swapped in");
        const auto fill = [&](keyauth::LmdbRegistry& fresh) -> Status {
            auto snapshot = read_and_commit(
                fresh, 0, [](const keyauth::ClientRecord&) { return false; }, local_clients,
                revision, nullptr, refusal);
            if (!snapshot)
                return snapshot.status();
            if (!refusal.empty())
                return make_error(Errc::already_exists, refusal);
            loaded = std::move(*snapshot);
            return {};
        };
        const auto swapped = [&] { swapped_in = swap_in(started); };
        Status built = rebuild_registry(options.layout, replica_lock, fill, swapped,
                                        unwritten_since(served_commits()));
        if (!swapped_in)
            return built ? swapped_in : built;
        audit_snapshot(loaded, "load");
        return after_load(loaded, "loaded");
    }

    // One audit line for a whole snapshot taken in (not one per client).
    void audit_snapshot(const Snapshot& snapshot, const char* how) const {
        keyauth::AuditEvent line;
        line.action = keyauth::AuditAction::fleet_apply;
        line.via = "sync";
        line.revision = snapshot.revision;
        line.add("change", how)
            .add("clients", std::to_string(snapshot.clients))
            .add("cluster", snapshot.cluster_id)
            .add("registry", options.layout.dir);
        keyauth::audit(line);
    }

    Status rebuild() {
        const auto started = Clock::now();
        Follow follow = rebuild_follow;
        rebuild_follow = Follow::none;
        if (filled) {
            Filled kept = std::move(*filled);
            filled.reset();
            return exchange_filled(std::move(kept));
        }
        // Held: the retry goes on giving the registry served this store's
        // deletes, whatever it decides.
        if (!held.empty() && revision > 0)
            follow = Follow::held_deletes;
        // Recording first, the snapshot's revision after (a linearizable
        // read): no change after that revision can be missed.
        if (Status s = start_recording(follow); !s)
            return s;
        // Where the watch stood before the head was read: what it takes
        // meanwhile is after the head's revision, not a sign of a store behind.
        const std::int64_t watched_from = watcher->from;
        auto head = unlocked([&] { return etcd.range(keyauth::kFleetIdKey, ""); });
        if (!head) {
            stop_recording();
            return head.status();
        }
        const std::int64_t at = head->revision;
        const std::string head_fleet_id =
            head->kvs.empty() ? std::string() : head->kvs.front().value;
        if (head->cluster_id != cluster_id || head_fleet_id != fleet_id)
            follow = Follow::none;
        // Held deletes go on from where this copy or its watch stands: not
        // in a store behind that (emptied and restored, keeping its cluster
        // and fleet id), whose revisions there are other changes, and whose
        // changes after `at` the rebuild must record.
        if (follow == Follow::held_deletes && std::max(revision, watched_from - 1) > at)
            follow = Follow::none;
        recording_at(at, follow);
        // What the rebuild would lose is counted against the clients served
        // now, looked up in the index the servers read.
        auto index = keyauth::RegistryReader::open(options.layout.dir);
        if (!index) {
            stop_recording();
            return index.error();
        }
        // Read (live, as served_commits() reads it) before the count: a
        // keytool commit is then in the count, or seen by unwritten_since
        // as a moved sequence, never in neither.
        const std::uint64_t commits_counted = (*index)->commit_sequence();
        auto count = registry->count();
        if (!count) {
            stop_recording();
            return count.error();
        }
        const std::size_t served = local_clients = *count;
        std::size_t probed = 0;
        const auto known = [&](const keyauth::ClientRecord& record) {
            if (++probed % kProbesBetweenHandBacks == 0)
                (*index)->hand_back_pages();
            keyauth::ClientCredentials credentials;
            return (*index)->find(record.id, credentials).ok();
        };
        // All of it beside the watcher but the last changes recorded, the
        // swap and opening the new registry: `serving` is taken for those
        // only (exchange_filled), and let go as soon as the new registry is served.
        const std::int64_t serving_revision = revision;
        Snapshot loaded;
        std::string refusal;
        const auto fill = [&](keyauth::LmdbRegistry& fresh) -> Status {
            auto snapshot = read_and_commit(fresh, at, known, served, serving_revision,
                                            watcher.get(), refusal);
            if (!snapshot)
                return snapshot.status();
            if (!refusal.empty())
                return make_error(Errc::already_exists, refusal);
            if (Status s = commit_recorded(fresh, *watcher, *snapshot); !s)
                return s;
            loaded = std::move(*snapshot);
            return {};
        };
        auto built = unlocked([&] { return build_rebuild(options.layout, fill); });
        index->reset();
        if (!built) {
            stop_recording();
            if (!refusal.empty()) {
                // Another store is not followed; this copy's gives its
                // deletes only until the hold ends. A watch that stopped
                // following meanwhile (a mass delete during the read) is
                // started again from the registry's revision by the retry.
                watcher->mode = follow == Follow::none || watcher->mode == Follow::none
                                    ? Follow::none
                                    : Follow::held_deletes;
                return hold(refusal);
            }
            // Busy: the registry served is untouched and stays open.
            if (built.error().code == Errc::busy)
                return built.status();
            if (Status s = open(); !s)
                return s;
            return built.status();
        }
        // Followed (a revision), keytool refuses it: only the sync writes it.
        return exchange_filled(Filled{std::move(*built), std::move(loaded), started, !held.empty(),
                                      serving_revision == 0
                                          ? unwritten_since(commits_counted)
                                          : std::function<Status()>([] { return Status(); })});
    }

    // The registry served, exchanged for the one a rebuild filled beside it.
    // Under `serving` (which the watcher needs to change the registry
    // served), the changes the watcher recorded since the fill's snapshot
    // are committed into it first: it is then as new as the registry served
    // or newer, and nothing the watcher applied meanwhile is lost. A change
    // the watcher could not record (complete false: a compaction, a fleet
    // id, a mass delete) throws it away: etcd is read again. writer.lock
    // still busy after the exchange's wait keeps it, and the watcher
    // recording, for the next rebuild, which tries the exchange alone again.
    Status exchange_filled(Filled kept) {
        Status swapped_in = make_error(Errc::io_error, "not swapped in");
        const auto caught_up_copy = [&](keyauth::LmdbRegistry& fresh) -> Status {
            loop_lock.lock();
            if (!watcher->complete) {
                read_again = true;
                return make_error(Errc::io_error,
                                  "etcd changed during the rebuild in a way only a new snapshot "
                                  "shows (compacted, fleet id, mass delete): reading it again");
            }
            return commit_recorded(fresh, *watcher, kept.snapshot);
        };
        const auto swapped = [&] {
            swapped_in = swap_in(kept.started);
            if (swapped_in) {
                const std::size_t counted = local_clients;  // with the changes caught up
                swapped_in = after_load(kept.snapshot, "rebuilt the registry with");
                local_clients = counted;
            }
            // The watcher goes on with the new registry, from its revision.
            watcher->mode = swapped_in ? Follow::all : Follow::none;
            watcher->recording = false;
            loop_lock.unlock();
        };
        Status exchanged = unlocked([&] {
            return exchange_rebuild(options.layout, kept.built, caught_up_copy, swapped,
                                    kept.still_replaceable, replica_lock);
        });
        if (!swapped_in && exchanged.code() == Errc::busy) {
            // The registry served is untouched and stays open.
            log_line(
                "the registry rebuilt at etcd revision %lld kept for the exchange, "
                "tried again: %s",
                static_cast<long long>(kept.snapshot.revision), exchanged.error().message.c_str());
            filled = std::move(kept);
            return exchanged;
        }
        const std::size_t caught_up = watcher->taken;
        stop_recording();
        if (!swapped_in) {
            if (!exchanged) {
                if (Status s = open(); !s)
                    return s;
                return exchanged;
            }
            return swapped_in;
        }
        unlocked([&] { audit_snapshot(kept.snapshot, "rebuild"); });
        ++metrics().rebuilds;
        publish_state();
        if (kept.was_held)
            log_line("etcd acceptable again: no longer held");
        must_rebuild = false;
        if (caught_up > 0)
            log_line("(%zu changes made during the read applied before the swap)", caught_up);
        return {};
    }

    // The watcher records every change from now on (started if it was not,
    // from the registry's revision, as `follow` says).
    Status start_recording(Follow follow) {
        if (!watcher) {
            // Held deletes only once the store is known to be this copy's
            // (recording_at).
            if (Status s = start_watcher(follow == Follow::all ? Follow::all : Follow::none); !s)
                return s;
        }
        watcher->take();
        watcher->taken = 0;
        watcher->recording = true;
        watcher->recorded_through = 0;
        watcher->at = 0;
        watcher->complete = true;
        return {};
    }

    // The snapshot's revision, once read; with Follow::none (another store)
    // the watch starts again there and the registry served is left alone.
    void recording_at(std::int64_t at, Follow follow) {
        watcher->at = at;
        if (follow == Follow::held_deletes && watcher->mode != Follow::held_deletes) {
            // Held, this copy's store, not followed so far (a restart): its
            // deletes from the registry's revision on, the watch started again.
            restart_watch(revision + 1, Follow::held_deletes);
            return;
        }
        if (follow == Follow::none)
            restart_watch(at + 1, Follow::none);
    }

    // The watch started again at `from`, following as `mode` says: what the
    // old one recorded or still delivers is dropped.
    void restart_watch(std::int64_t from, Follow mode) {
        watcher->mode = mode;
        watcher->from = from;
        ++watcher->epoch;
        watcher->take();
        watcher->taken = 0;
        watcher->recorded_through = 0;
        watcher->busy_pause = std::chrono::milliseconds(0);  // the rebuild takes over
        watcher->restart = true;
    }

    void stop_recording() {
        watcher->recording = false;
        watcher->take();
        watcher->complete = true;
    }

    // Keeps serving the last state, says why loudly (log, and the registry
    // for `keytool status`), and watches nothing until etcd is acceptable
    // again or the operator accepts it.
    Status hold(const std::string& reason) {
        const auto now = Clock::now();
        if (reason != held || now - last_held_report >= kStaleReportEvery) {
            log_line("HELD: %s", reason.c_str());
            last_held_report = now;
        }
        if (reason == held)
            return {};
        // Held once stored: a hold that could not be (writer.lock busy) is
        // tried again whole.
        auto writer = registry->begin_write();
        if (!writer)
            return writer.error();
        if (Status s = (*writer)->put_meta(keyauth::kReplicaHeldMeta, reason); !s)
            return s;
        if (Status s = (*writer)->commit(); !s)
            return s;
        writer->reset();  // its lock released: record_contact reads LMDB
        held = reason;
        metrics().held = true;
        // No heartbeat runs while held: the registry's group (keytool status
        // as a monitoring user) reads the hold from this file alone.
        record_contact(last_contact);
        return {};
    }

    // Another store than the one copied: another cluster, or another
    // fleet's data (a wiped etcd started again with the same token and peer
    // URLs keeps its cluster id, but `init` writes a new fleet id). Empty:
    // the same store.
    std::string foreign(const EtcdIdentity& now) const {
        if (!cluster_id.empty() && now.cluster_id != cluster_id)
            return "etcd cluster " + now.cluster_id + " is not " + cluster_id + ", this copy's";
        if (now.fleet_id != fleet_id)
            return "etcd's fleet id '" + now.fleet_id + "' is not '" + fleet_id + "', this copy's";
        return {};
    }

    // Starts the watcher from the registry's revision.
    Status start_watcher(Follow mode) {
        if (!follower_etcd) {
            if (!options.connect_follower)
                return make_error(Errc::io_error, "no connection to etcd for the watcher");
            auto connected = options.connect_follower();
            if (!connected)
                return connected.status();
            follower_etcd = std::move(*connected);
        }
        watcher = std::make_unique<Watcher>();
        watcher->mode = mode;
        watcher->from = revision + 1;
        Watcher& w = *watcher;
        w.thread = std::thread([this, &w] {
            try {
                watch(w);
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> lock(serving);
                w.failed = make_error(Errc::io_error, std::string("watcher: ") + e.what());
                wake = true;
            }
        });
        return {};
    }

    // kFollowSession; tests: KEYAUTH_FOLLOW_SESSION_MS, shorter than etcd
    // takes to answer a large revision (at most kFollowSession). Read when
    // a watcher starts.
    static std::chrono::milliseconds follow_session() {
        const char* given = std::getenv("KEYAUTH_FOLLOW_SESSION_MS");
        const long ms = given ? std::atol(given) : 0;
        return ms > 0 && ms < kFollowSession.count() ? std::chrono::milliseconds(ms)
                                                     : kFollowSession;
    }

    // A session that brought nothing while etcd's revision is ahead: a
    // change under /keyauth/ etcd is slow to send (a del --prefix of a
    // million clients is one answer it starts ~45 s later), or only writes
    // elsewhere in etcd (the hosts' last use, other applications), where
    // sessions must stay short for a dead member to be noticed. Told apart
    // by the keys under /keyauth/: the clients served, the fleet id and the
    // CA certificate, or more or fewer (a record refused here counts too,
    // and lengthens sessions as before).
    // Unlike follow_quiet_revisions, this moves no revision: the watch
    // still brings every change from w.from whatever it answers, so what
    // the count cannot tell apart (as many records refused here, or put
    // since, as clients deleted) only keeps sessions short, and that
    // matters only for a change etcd is slow to start sending, a delete of
    // hundreds of thousands of clients matched key for key. A count at the
    // revision reached, beside the one at etcd's, would cost a second walk.
    // etcd counts them by walking its index of every key under /keyauth/
    // (90-150 ms of its CPU at a million, BENCHMARKS.md), and with writes
    // elsewhere it is ahead after nearly every session: once a count finds
    // them what this host serves, the next waits kKeysCountPause. A change
    // landing meanwhile waits that long at most to lengthen the sessions;
    // a change sent while they are at their longest may wait as long.
    static constexpr std::chrono::milliseconds kKeysCountPause = kFollowSessionMost;
    bool keys_change_pending(const std::string& end, Clock::time_point& next_count) {
        if (Clock::now() < next_count)
            return false;
        ++metrics().fleet_key_counts;
        auto keys = follower_etcd->count(keyauth::kFleetPrefix, end);
        if (!keys)
            return false;
        std::lock_guard<std::mutex> lock(serving);
        if (keys->count != fleet_keys_of(local_clients))
            return true;
        next_count = Clock::now() + kKeysCountPause;
        return false;
    }

    // The keys under /keyauth/ of a store whose clients are `clients`: those,
    // the fleet id and the CA certificate.
    static std::int64_t fleet_keys_of(std::size_t clients) {
        return static_cast<std::int64_t>(clients) + 2;
    }

    // The watcher's thread: one watch after another until stopped.
    void watch(Watcher& w) {
        const std::string end = keyauth::etcd_prefix_end(keyauth::kFleetPrefix);
        auto backoff = std::chrono::milliseconds(100);
        const auto first_session = follow_session();
        auto session = first_session;
        Clock::time_point next_keys_count{};
        while (!w.stop) {
            std::int64_t from = 0;
            std::uint64_t epoch = 0;
            {
                std::lock_guard<std::mutex> lock(serving);
                w.restart = false;
                from = w.from;
                epoch = w.epoch;
            }
            Status watched = follower_etcd->watch(
                keyauth::kFleetPrefix, end, from,
                [&](const keyauth::EtcdWatchBatch& batch) {
                    bool more = false;
                    std::vector<keyauth::AuditEvent> applied;
                    {
                        std::lock_guard<std::mutex> lock(serving);
                        more = w.epoch == epoch && on_batch(w, batch) && !w.stop;
                        applied.swap(audits);
                    }
                    send_audits(applied);
                    return more;
                },
                session, [&] { return w.stop.load() || w.restart.load(); });
            std::chrono::milliseconds busy_pause{0};
            std::int64_t reached = 0;
            {
                std::lock_guard<std::mutex> lock(serving);
                busy_pause = w.busy_pause;
                reached = w.from;
            }
            if (watched && reached <= from && metrics().etcd_revision >= from &&
                keys_change_pending(end, next_keys_count))
                session = std::min(session * 2, kFollowSessionMost);
            else
                session = first_session;
            if (watched && busy_pause.count() == 0) {
                backoff = std::chrono::milliseconds(100);
                continue;
            }
            // etcd unreachable (the loop's heartbeat says so), or the
            // registry busy: watched again from w.from after a pause.
            if (!watched)
                ++metrics().watch_reconnects;
            const auto pause = watched ? busy_pause : backoff;
            for (auto slept = std::chrono::milliseconds(0); slept < pause && !w.stop && !w.restart;
                 slept += std::chrono::milliseconds(20))
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            if (!watched)
                backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        }
    }

    // One watch response, under `serving`. False: watch again from w.from.
    bool on_batch(Watcher& w, const keyauth::EtcdWatchBatch& batch) {
        if (batch.compact_revision > 0) {
            w.busy_pause = std::chrono::milliseconds(0);  // the rebuild that follows takes over
            on_compaction(w, batch.compact_revision);
            return false;
        }
        if (batch.canceled)
            return false;
        if (batch.events.empty())
            return true;
        const std::int64_t batch_from = w.from;
        for (const keyauth::EtcdEvent& event : batch.events) {
            w.from = std::max(w.from, event.kv.mod_revision + 1);
            // A watch delivers a revision's changes together.
            if (w.recording && event.kv.mod_revision > w.recorded_through)
                w.record(event);
        }
        if (w.recording)
            w.recorded_through = std::max(w.recorded_through, w.from - 1);
        // A new fleet id or a mass delete during a rebuild, or when not
        // following every change, is for a new snapshot to decide; what
        // comes before it in a joined batch is applied as ever (a del must
        // not wait for the operator behind it).
        const std::int64_t undecided = first_undecided(batch.events).revision;
        // Held, the deletes only: what must not be decided is skipped there,
        // the rest of the batch still applied.
        const bool held_follow = w.mode == Follow::held_deletes;
        const bool for_a_snapshot =
            !held_follow && undecided > 0 && (w.recording || w.mode != Follow::all);
        const std::vector<keyauth::EtcdEvent> before =
            for_a_snapshot ? events_before(batch.events, undecided) : std::vector<keyauth::EtcdEvent>();
        const std::vector<keyauth::EtcdEvent>& events = for_a_snapshot ? before : batch.events;
        Status applied;
        bool another_fleet = false;
        if (w.mode == Follow::all) {
            std::int64_t held_at = 0;
            applied = apply(events, held_at);  // decides a fleet change and a mass delete itself
            if (applied && held_at > 0) {
                // Held for this mass delete: the deletes after it still come.
                w.mode = Follow::held_deletes;
                applied = apply_held_deletes(events_after(events, held_at), another_fleet);
            }
        } else if (w.mode == Follow::deletes) {
            applied = apply_deletes(events);
        } else if (held_follow) {
            applied = apply_held_deletes(events, another_fleet);
        }
        if (!applied && applied.code() == Errc::busy) {
            // Nothing is lost: the watch starts again where this batch did
            // (what a partial apply committed is below the revision and not
            // applied again), after a pause.
            w.from = batch_from;
            w.busy_pause = w.busy_pause.count() == 0 ? kBusyRetryFirst
                                                     : std::min(w.busy_pause * 2, kBusyRetryMost);
            report_busy(applied.error());
            return false;
        }
        if (applied && w.busy_pause.count() > 0) {
            w.busy_pause = std::chrono::milliseconds(0);
            report_through();
        }
        if (!applied) {
            w.failed = applied;
            w.mode = Follow::none;
            wake = true;
        } else if (for_a_snapshot) {
            w.complete = false;
            w.mode = Follow::none;
        } else if (w.mode == Follow::held_deletes) {
            if (undecided > 0 && w.recording)
                w.complete = false;  // not for a retried rebuild to catch up
            if (another_fleet)
                w.mode = Follow::none;  // another fleet: its deletes mean nothing here
            if (!held_follow)
                wake = true;  // held just now
        } else if (undecided > 0 && (must_rebuild || !held.empty())) {
            w.mode = Follow::none;  // another fleet, or held: nothing more until a rebuild
            wake = true;
        }
        return true;
    }

    // etcd compacted the history the watch asked for: from there, deletes
    // only (safe on any state; a put on a state missing history is not).
    void on_compaction(Watcher& w, std::int64_t compacted) {
        if (w.recording && w.at > 0 && w.mode == Follow::all && w.from <= w.at) {
            // The served registry's history is gone; the snapshot's is not.
            w.mode = Follow::deletes;
            w.from = w.at + 1;
            return;
        }
        if (w.recording) {
            w.complete = false;  // changes after the snapshot lost: read again
        } else {
            log_line("etcd compacted past revision %lld (to %lld): rebuilding",
                     static_cast<long long>(revision), static_cast<long long>(compacted));
            must_rebuild = true;
            if (held.empty())
                rebuild_follow = Follow::deletes;
            wake = true;
        }
        if (w.mode == Follow::all)
            w.mode = Follow::deletes;
        w.from = compacted;
    }

    // One audit line per client change applied (the revision it had in etcd).
    void audit_applied(const std::vector<keyauth::EtcdEvent>& events, bool deletes_only) {
        for (const keyauth::EtcdEvent& event : events) {
            auto id = keyauth::fleet_client_id(event.kv.key);
            if (!id || (deletes_only && !event.deleted))
                continue;
            keyauth::AuditEvent line;
            line.action = keyauth::AuditAction::fleet_apply;
            line.client_id = std::move(*id);
            line.via = "sync";
            line.revision = event.kv.mod_revision;
            line.add("change", event.deleted ? "del" : "put").add("registry", options.layout.dir);
            audits.push_back(std::move(line));
        }
    }

    static void send_audits(const std::vector<keyauth::AuditEvent>& lines) {
        for (const keyauth::AuditEvent& line : lines)
            keyauth::audit(line);
    }

    // What keyauth_sync_changes_applied_total counts: clients put or
    // deleted, not the CA certificate or the fleet id.
    static std::uint64_t client_changes(const std::vector<keyauth::EtcdEvent>& events) {
        std::uint64_t changes = 0;
        for (const keyauth::EtcdEvent& event : events)
            changes += keyauth::fleet_client_id(event.kv.key) ? 1 : 0;
        return changes;
    }

    // The deletes of a watch response only, the revision left as it was.
    Status apply_deletes(const std::vector<keyauth::EtcdEvent>& events) {
        std::vector<std::string> ids;
        for (const keyauth::EtcdEvent& event : events) {
            if (!event.deleted)
                continue;
            if (auto id = keyauth::fleet_client_id(event.kv.key))
                ids.push_back(std::move(*id));
        }
        if (ids.empty())
            return {};
        auto writer = registry->begin_write();
        if (!writer)
            return writer.error();
        for (const std::string& id : ids) {
            if (Status s = erase_if_present(**writer, id); !s)
                return s;
        }
        if (Status s = (*writer)->commit(); !s)
            return s;
        writer->reset();  // its lock released: count() takes it again
        ++metrics().watch_commits;
        audit_applied(events, true);
        if (auto count = registry->count())
            local_clients = *count;
        metrics().changes_applied += ids.size();
        publish_state();  // the clients gauge, not only at the swap
        return {};
    }

    // The first etcd revision in `events` that deletes more than
    // --max-loss of the clients at once (`etcdctl del --prefix`, a script
    // gone wrong), which the operator confirms as a rebuild would; 0: none.
    // Dels of their own, however many a batch joins (a host catching up),
    // never trip it. Each revision is counted against the clients left by
    // the dels before it (puts not counted: that only holds sooner).
    // `removed` and `of`: what that revision deletes, of how many.
    struct MassRemoval {
        std::int64_t revision = 0;
        std::size_t removed = 0;
        std::size_t of = 0;
    };
    MassRemoval mass_removal(const std::vector<keyauth::EtcdEvent>& events) const {
        if (options.accept_new_fleet)
            return {};
        std::size_t left = local_clients;
        for (std::size_t i = 0; i < events.size();) {
            const std::int64_t at = events[i].kv.mod_revision;
            const std::size_t deleted = client_deletes_of_revision(events, i);
            if (is_mass_removal(left, deleted))
                return {at, deleted, left};
            left -= std::min(left, deleted);
        }
        return {};
    }

    // The clients the revision of events[i] deletes; i moves past it (the
    // events of one revision come together).
    static std::size_t client_deletes_of_revision(const std::vector<keyauth::EtcdEvent>& events,
                                                  std::size_t& i) {
        const std::int64_t at = events[i].kv.mod_revision;
        std::size_t deleted = 0;
        for (; i < events.size() && events[i].kv.mod_revision == at; ++i)
            deleted += events[i].deleted && keyauth::fleet_client_id(events[i].kv.key) ? 1 : 0;
        return deleted;
    }

    bool is_mass_removal(std::size_t left, std::size_t deleted) const {
        return deleted >= 2 && keyauth::exceeds_loss(left, deleted, options.max_loss_percent);
    }

    // Held (Follow::held_deletes): the deletes of `events`, a revision at a
    // time, but for a revision deleting more than --max-loss at once (the
    // hold's own, seen again after a restart, or another: skipped, as the
    // hold keeps them), and nothing from a new fleet id on (`another_fleet`
    // set). Applying a delete only ever refuses more; skipping one keeps the
    // state the hold serves. Clients left only shrinks here (no put), so a
    // mass delete is never judged smaller when seen again.
    Status apply_held_deletes(const std::vector<keyauth::EtcdEvent>& events, bool& another_fleet) {
        std::vector<keyauth::EtcdEvent> deletes;
        std::size_t left = local_clients;
        const std::int64_t new_fleet = fleet_change(events);
        for (std::size_t i = 0; i < events.size();) {
            const std::size_t first = i;
            if (new_fleet != 0 && events[i].kv.mod_revision >= new_fleet) {
                another_fleet = true;
                break;
            }
            const std::size_t deleted = client_deletes_of_revision(events, i);
            if (is_mass_removal(left, deleted))
                continue;
            left -= std::min(left, deleted);
            deletes.insert(deletes.end(), events.begin() + static_cast<std::ptrdiff_t>(first),
                           events.begin() + static_cast<std::ptrdiff_t>(i));
        }
        return apply_deletes(deletes);
    }

    std::string mass_removal_refusal(const MassRemoval& mass) const {
        return "etcd deleted " + std::to_string(mass.removed) + " of the " +
               std::to_string(mass.of) + " clients this host serves at once (more than " +
               "--max-loss " + std::to_string(options.max_loss_percent) +
               "%): not applied; serving revision " + decimal(revision) +
               " as it was. If meant: keyauth-sync --accept-new-fleet; if not, restore etcd "
               "(docs/FLEET.md)";
    }

    // The first revision in `events` that changes the fleet id: another
    // fleet, for a rebuild to decide; 0: none.
    std::int64_t fleet_change(const std::vector<keyauth::EtcdEvent>& events) const {
        for (const keyauth::EtcdEvent& event : events) {
            if (event.kv.key == keyauth::kFleetIdKey &&
                (event.deleted || event.kv.value != fleet_id))
                return event.kv.mod_revision;
        }
        return 0;
    }

    // The first revision in `events` this watcher must not decide: a new
    // fleet id or a mass delete (revision 0: none), and which it is.
    struct Undecided {
        std::int64_t revision = 0;
        bool new_fleet = false;  // first, or with the mass delete
        MassRemoval mass;
    };
    Undecided first_undecided(const std::vector<keyauth::EtcdEvent>& events) const {
        const std::int64_t new_fleet = fleet_change(events);
        const MassRemoval mass = mass_removal(events);
        if (new_fleet != 0 && (mass.revision == 0 || new_fleet <= mass.revision))
            return {new_fleet, true, mass};
        return {mass.revision, false, mass};
    }

    static std::vector<keyauth::EtcdEvent> events_after(
        const std::vector<keyauth::EtcdEvent>& events, std::int64_t revision) {
        std::vector<keyauth::EtcdEvent> after;
        for (const keyauth::EtcdEvent& event : events) {
            if (event.kv.mod_revision > revision)
                after.push_back(event);
        }
        return after;
    }

    static std::vector<keyauth::EtcdEvent> events_before(
        const std::vector<keyauth::EtcdEvent>& events, std::int64_t revision) {
        std::vector<keyauth::EtcdEvent> before;
        for (const keyauth::EtcdEvent& event : events) {
            if (event.kv.mod_revision < revision)
                before.push_back(event);
        }
        return before;
    }

    // One watch response: every event newer than the registry and the
    // revision, one transaction (an event the registry already holds, as a
    // new watch or a rebuilt registry may, is not applied again). What
    // comes before a change this watcher must not decide (a new fleet id, a
    // mass delete) is applied first: joined with it, a del of its own must
    // not wait for the operator. `held_at`: the revision of the mass delete
    // it held for (0: none).
    Status apply(const std::vector<keyauth::EtcdEvent>& all, std::int64_t& held_at) {
        std::vector<keyauth::EtcdEvent> events;
        for (const keyauth::EtcdEvent& event : all) {
            if (event.kv.mod_revision > revision)
                events.push_back(event);
        }
        const Undecided undecided = first_undecided(events);
        if (undecided.revision == 0)
            return commit_events(events);
        if (Status s = commit_events(events_before(events, undecided.revision)); !s)
            return s;
        if (undecided.new_fleet) {
            log_line("etcd's fleet id changed at revision %lld: rebuilding",
                     static_cast<long long>(undecided.revision));
            must_rebuild = true;
            return {};
        }
        if (Status s = hold(mass_removal_refusal(undecided.mass)); !s)
            return s;
        held_at = undecided.revision;
        return {};
    }

    // Events newer than the registry, in one transaction with their revision.
    Status commit_events(const std::vector<keyauth::EtcdEvent>& events) {
        if (events.empty())
            return {};
        auto writer = registry->begin_write();
        if (!writer)
            return writer.error();
        std::int64_t at = revision;
        std::optional<std::string> ca_cert;
        if (Status s = apply_events(**writer, events, at, ca_cert); !s)
            return s;
        if (Status s = (*writer)->put_meta(keyauth::kReplicaRevisionMeta, decimal(at)); !s)
            return s;
        const std::int64_t now = keyauth::unix_now();
        if (Status s = (*writer)->put_meta(keyauth::kReplicaContactMeta, decimal(now)); !s)
            return s;
        if (Status s = (*writer)->commit(); !s)
            return s;
        writer->reset();  // its lock released: count() takes it again
        ++metrics().watch_commits;
        audit_applied(events, false);
        revision = at;
        last_contact = now;
        if (auto count = registry->count())
            local_clients = *count;
        metrics().changes_applied += client_changes(events);
        publish_state();
        if (ca_cert)
            return install_ca(*ca_cert);
        return {};
    }

    // Linearizable reads: proof that etcd has a quorum and answers us, and
    // who it is. The CA certificate is read too, so a change whose file
    // write a crash cut short (the file is written after the commit) is made
    // good here.
    Result<EtcdIdentity> heartbeat() {
        const std::int64_t local_revision = revision;
        auto range = unlocked([&] { return etcd.range(keyauth::kFleetCaCertKey, ""); });
        if (!range)
            return range.error();
        auto fleet = unlocked([&] { return etcd.range(keyauth::kFleetIdKey, ""); });
        if (!fleet)
            return fleet.error();
        EtcdIdentity identity{fleet->revision, fleet->cluster_id,
                              fleet->kvs.empty() ? std::string() : fleet->kvs.front().value,
                              local_revision};
        if (range->cluster_id != fleet->cluster_id)
            return make_error(Errc::io_error, "etcd cluster changed between two reads");
        metrics().etcd_revision = fleet->revision;
        metrics().last_contact = keyauth::unix_now();
        if (range->kvs.size() == 1 && range->kvs.front().mod_revision <= revision &&
            foreign(identity).empty()) {
            if (Status s = install_ca(range->kvs.front().value); !s)
                return s.error();
        }
        // Not while a change waits for writer.lock: the host is behind.
        if (!busy_since)
            record_contact_if_due(keyauth::unix_now());
        return identity;
    }

    // etcd's CA certificate for the servers; one they could not load is
    // said once (the heartbeat reads it again and again) and not installed.
    Status install_ca(const std::string& pem) {
        Status installed = install_ca_certificate(options.layout, pem);
        if (installed.code() != Errc::invalid_argument)
            return installed;
        if (pem != refused_ca_cert) {
            refused_ca_cert = pem;
            log_line("%s", installed.error().message.c_str());
        }
        return {};
    }

    // Contact at `now` and the revision the clients stand at, into the file
    // beside the registry, never LMDB: a commit moves commit.seq, which
    // empties every server's caches and makes the broker re-check every live
    // session, for no client changed. `revision` is true of LMDB's state as
    // it is (under `serving`): LMDB's own, or etcd's later one that
    // follow_quiet_revisions proved the same. A failure leaves only the
    // host looking stale: said, and tried again at the next heartbeat.
    void record_contact_if_due(std::int64_t contact) {
        if (!contact_file_written || Clock::now() - *contact_file_written >= kContactEvery)
            record_contact(contact);
    }
    void record_contact(std::int64_t now) {
        // One read: what the file says is all of LMDB's state at `generation`.
        auto summary =
            registry->summarize({keyauth::kReplicaRevisionMeta, keyauth::kReplicaHeldMeta,
                                 keyauth::kReplicaClusterMeta, keyauth::kReplicaFleetIdMeta});
        Status written = summary.status();
        if (summary) {
            const auto& meta = summary->meta;
            const keyauth::ReplicaContact contact{
                now,
                revision,
                std::strtoll(meta[0].value_or("0").c_str(), nullptr, 10),
                summary->generation,
                !meta[1].value_or("").empty(),
                meta[2].value_or(""),
                meta[3].value_or("")};
            written = keyauth::write_replica_contact(options.layout, contact);
        }
        if (written) {
            last_contact = now;
            contact_file_written = Clock::now();
            return;
        }
        ++metrics().errors;
        const auto at = Clock::now();
        if (at - last_contact_failure_report >= kStaleReportEvery) {
            last_contact_failure_report = at;
            log_line("cannot record contact with etcd (keytool status will call this host "
                     "stale): %s",
                     written.error().message.c_str());
        }
    }

    // etcd's revision moves with every write, ours only with the fleet's
    // (under /keyauth/): hosts publishing last use, other programs sharing
    // etcd. Left behind, the revision the watch starts from is compacted
    // away sooner or later, and that forces a rebuild of every host at
    // once. So, when etcd is ahead, prove from etcd alone that its keys
    // under /keyauth/ at its revision `head` are those at ours
    // (fleet_unchanged_between) and take `head` as ours. Not from what this
    // host holds: a record it refuses stood in for a client deleted, and
    // the host took the delete's revision while still admitting the client
    // (review 4, L-2). Anything else, or a change the watcher applied
    // meanwhile: nothing is moved, the watch goes on as ever. Asked before
    // each digest check (--digest-interval), whose whole read of etcd costs
    // far more than the count at ours this adds.
    Status follow_quiet_revisions(std::int64_t head) {
        if (!watcher || watcher->mode != Follow::all || watcher->recording || !held.empty() ||
            must_rebuild)
            return {};
        const std::int64_t ours = revision;
        const std::string cluster = cluster_id;
        auto unchanged =
            unlocked([&] { return fleet_unchanged_between(etcd, ours, head, cluster); });
        if (!unchanged)
            return unchanged.status();
        if (!*unchanged || revision != ours || watcher->mode != Follow::all || watcher->recording)
            return {};
        // No commit (it would move commit.seq for no client changed): the
        // contact file keeps it for a restart, for as long as LMDB does not
        // commit; the next commit of a change stores a revision past it.
        revision = head;
        watcher->from = std::max(watcher->from, head + 1);
        ++metrics().quiet_advances;
        publish_state();
        record_contact(keyauth::unix_now());
        return {};
    }

    // The registry's digest, its records walked in id order as LMDB holds
    // them: not listed first (~140 MB more at a million clients).
    Result<std::string> local_digest() {
        keyauth::RegistryDigest digest;
        Status walked = registry->scan(
            false, [&] { digest = keyauth::RegistryDigest(); },
            [&](std::string_view id, const keyauth::ClientCredentials& credentials) {
                digest.add(keyauth::ClientRecord{std::string(id), credentials});
                return true;
            });
        if (!walked)
            return walked.error();
        return digest.hex();
    }

    // Local digest and etcd's, both at the local revision; nullopt if etcd
    // can no longer serve that revision (compacted: the watcher will tell).
    // The watcher goes on applying changes meanwhile: the local registry is
    // read without `serving`, and taken as at the revision only if no
    // change was applied during it (else tried again, the last time held).
    Result<std::optional<std::pair<std::string, std::string>>> digests() {
        Result<std::string> local = std::string();
        std::int64_t at = 0;
        for (int attempt = 0;; ++attempt) {
            at = revision;
            local = attempt < 3 ? unlocked([&] { return local_digest(); }) : local_digest();
            if (!local)
                return local.error();
            if (revision == at)
                break;
        }
        digest_revision = at;
        keyauth::RegistryDigest remote;
        keyauth::FleetRecordFilter claims;
        auto snapshot = unlocked([&] {
            return read_snapshot(
                etcd, at,
                [&](const keyauth::ClientRecord& record) {
                    // claim's one failure: an earlier record holds the certificate.
                    if (Status s = claims.claim(record); !s)
                        return RecordVerdict::refusal(s.error().message);
                    remote.add(record);
                    return RecordVerdict::taken();
                },
                [this] { return between_pages(); });
        });
        if (!snapshot) {
            if (snapshot.error().code == Errc::not_found)
                return std::optional<std::pair<std::string, std::string>>();
            return snapshot.error();
        }
        return std::optional<std::pair<std::string, std::string>>(
            std::make_pair(std::move(*local), remote.hex()));
    }

    void report_unreachable(const keyauth::Error& error) {
        ++metrics().errors;
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

    void report_busy(const keyauth::Error& error) {
        if (busy_since)
            return;
        busy_since = Clock::now();
        ++metrics().errors;
        log_line(
            "%s: etcd's changes wait for it (kept, tried again until it is free; "
            "serving revision %lld meanwhile)",
            error.message.c_str(), static_cast<long long>(revision));
    }

    void report_through() {
        if (!busy_since)
            return;
        log_line("writer.lock free again after %.1f s: changes applied, at revision %lld",
                 std::chrono::duration<double>(Clock::now() - *busy_since).count(),
                 static_cast<long long>(revision));
        busy_since.reset();
    }

    void report_reachable() {
        if (unreachable) {
            unreachable = false;
            log_line("etcd reachable again at %s; at revision %lld", etcd.endpoint().c_str(),
                     static_cast<long long>(revision));
        }
    }

    // What the heartbeat says about our copy: a reason to rebuild, or none.
    bool needs_rebuild(const EtcdIdentity& now) {
        if (std::string why = foreign(now); !why.empty()) {
            log_line("%s (another store, whatever its revision): rebuilding", why.c_str());
            return true;
        }
        if (now.revision < now.local_revision) {
            // Restored from an older snapshot, or a new cluster: our
            // revision means nothing there, and the watch would wait for it.
            log_line(
                "etcd is at revision %lld, behind this replica's %lld (restored or "
                "replaced): rebuilding",
                static_cast<long long>(now.revision), static_cast<long long>(now.local_revision));
            return true;
        }
        if (Clock::now() < next_digest || busy_since)
            return false;
        const auto started = Clock::now();
        if (now.revision > revision) {
            if (Status s = follow_quiet_revisions(now.revision); !s)
                log_line("checking etcd's revisions after %lld: %s", static_cast<long long>(revision),
                         s.error().message.c_str());
        }
        auto pair = digests();
        give_back_freed_memory();
        schedule_digest(Clock::now() - started);
        if (pair && *pair)
            ++metrics().digest_checks;
        if (!pair)
            log_line("digest check failed: %s", pair.error().message.c_str());
        if (pair && *pair && (*pair)->first != (*pair)->second) {
            log_line("digest mismatch at revision %lld (local %s, etcd %s): rebuilding",
                     static_cast<long long>(digest_revision), (*pair)->first.c_str(),
                     (*pair)->second.c_str());
            rebuild_follow = Follow::all;
            return true;
        }
        return false;
    }
};

Replica::Replica(keyauth::EtcdClient& etcd, ReplicaOptions options)
    : state_(std::make_unique<State>(etcd, std::move(options))) {}
Replica::~Replica() = default;

Status Replica::run(const std::function<bool()>& should_stop_asked,
                    const std::function<void()>& loop_alive) {
    State& s = *state_;
    s.loop_alive = loop_alive;
    // Wherever the loop looks whether to stop, it is alive.
    const auto should_stop = [&] {
        loop_alive();
        return should_stop_asked();
    };
    auto followed = registry_behind_links(s.options.layout);
    if (!followed)
        return followed.error();
    if (followed->dir != s.options.layout.dir) {
        log_line("registry %s is a symbolic link: %s is the directory replaced",
                 s.options.layout.dir.c_str(), followed->dir.c_str());
        s.options.layout = std::move(*followed);
    }
    // Before the registry is made: a parent that cannot be written is
    // named as the cause, not as a directory that could not be made.
    if (Status replaceable = check_replaceable(s.options.layout); !replaceable)
        return replaceable;
    if (Status opened = prepare_registry(s.options.layout, s.options.group); !opened)
        return opened;
    // One keyauth-sync per registry: a second one would interleave its
    // revisions with ours.
    auto lock = lock_replica(s.options.layout);
    if (!lock)
        return lock.error();
    s.replica_lock = std::move(*lock);
    for (auto pause = kBusyRetryFirst;; pause = std::min(pause * 2, kBusyRetryMost)) {
        Status opened = s.open();
        if (opened)
            break;
        if (opened.code() != Errc::busy)
            return opened;
        s.report_busy(opened.error());
        for (auto slept = std::chrono::milliseconds(0); slept < pause;
             slept += std::chrono::milliseconds(20)) {
            if (should_stop())
                return {};
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    // Our own rebuilds that died with an earlier run, removed once the path
    // to the registry is judged (a parent others may write refused first, so
    // no one could have moved one of root's directories under that name);
    // another user's directory so named is no rebuild of ours (beside a
    // registry in /tmp): said in one line (however many), left as it is,
    // and in no rebuild's way.
    const std::vector<std::string> others = remove_rebuild_leftovers(s.options.layout);
    if (!others.empty()) {
        constexpr std::size_t kNamed = 5;
        std::string named;
        for (std::size_t i = 0; i < std::min(others.size(), kNamed); ++i)
            named += (i == 0 ? "" : ", ") + others[i];
        if (others.size() > kNamed)
            named += " and " + std::to_string(others.size() - kNamed) + " more";
        log_line(
            "named as rebuilds of this registry but no directories of keyauth-sync's user, "
            "left as they are: %s",
            named.c_str());
    }
    s.report_through();
    if (s.revision > 0)
        log_line("resuming at etcd revision %lld", static_cast<long long>(s.revision));
    // The loop holds `serving` but while it waits (State::unlocked); the
    // watcher is stopped after it lets go.
    s.loop_lock.lock();
    struct StopWatcher {
        State& s;
        ~StopWatcher() {
            if (s.loop_lock.owns_lock())
                s.loop_lock.unlock();
            if (s.watcher)
                s.watcher->finish();
            // A rebuild kept for its exchange is not tried again.
            if (s.filled)
                discard_rebuild(s.filled->built.layout);
        }
    } stop_watcher{s};
    // A host that was held stays held until a rebuild is acceptable.
    s.must_rebuild = !s.held.empty();
    s.next_digest = Clock::now() + s.options.digest_interval;
    auto backoff = std::chrono::milliseconds(100);
    bool requested = false;  // a rebuild asked for, seen while waiting
    // Sleeps `how_long` without `serving`, or less if something must be
    // looked at: a stop, a rebuild asked for, the watcher's news.
    const auto wait = [&](std::chrono::milliseconds how_long) {
        s.unlocked([&] {
            for (auto slept = std::chrono::milliseconds(0); slept < how_long;
                 slept += std::chrono::milliseconds(20)) {
                requested = requested || s.options.rebuild_requested();
                if (requested || should_stop() || s.wake.exchange(false))
                    return;
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        });
    };
    const auto pause = [&] {
        wait(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    };

    // After a swap (or a failed rebuild) the registry could not be opened
    // again: no step may run on none. The loop ends, the supervisor
    // (systemd: Restart=always) starts keyauth-sync afresh, which opens it
    // or says why not.
    const auto registry_lost = [&s](const Status& why) {
        log_line("the registry could not be opened again (%s): ending, to be started afresh",
                 why ? "no registry open" : why.error().message.c_str());
        return make_error(Errc::io_error, "the registry could not be opened again" +
                                              (why ? std::string() : ": " + why.error().message));
    };
    while (!should_stop()) {
        if (!s.registry)
            return registry_lost({});
        if (requested || s.options.rebuild_requested()) {
            log_line("rebuild requested");
            requested = false;
            s.must_rebuild = true;
            s.rebuild_follow = s.held.empty() && s.revision > 0 ? Follow::all : Follow::none;
        }
        if (s.watcher && !s.watcher->failed)
            return s.watcher->failed;  // the local registry failed us: let the supervisor restart
        Status step;
        bool stepped = true;
        // A registry with clients but no revision (made by keytool, say) is
        // rebuilt, not loaded in place: rebuilding is what counts the loss.
        if (s.must_rebuild || (s.revision == 0 && s.local_clients > 0))
            step = s.rebuild();
        else if (s.revision == 0)
            step = s.load();
        else
            stepped = false;
        if (stepped)
            give_back_freed_memory();
        if (!s.registry)
            return registry_lost(step);
        if (!step && s.read_again) {
            s.read_again = false;
            log_line("%s", step.error().message.c_str());
            continue;
        }
        if (!step && step.code() == Errc::busy) {
            s.report_busy(step.error());
            pause();
            continue;
        }
        if (stepped && step && (!s.watcher || s.watcher->busy_pause.count() == 0))
            s.report_through();
        if (!step) {
            if (step.code() != Errc::io_error && step.code() != Errc::not_found)
                return step;  // the registry itself refuses: nothing to retry
            s.report_unreachable(step.error());
            pause();
            continue;
        }
        if (!s.held.empty()) {
            if (s.options.once)
                return make_error(Errc::already_exists, "HELD: " + s.held);
            // No heartbeat while held: the hold itself kept in the file (one
            // a restart, a full disk or a power cut lost written again).
            s.record_contact_if_due(s.last_contact);
            // Tried again now and then: etcd may be restored meanwhile.
            backoff = kHeldRetry;
            pause();
            s.must_rebuild = true;
            continue;
        }
        if (s.revision == 0)
            continue;

        auto current = s.heartbeat();
        if (!current) {
            if (current.error().code != Errc::io_error)
                return current.status();
            s.report_unreachable(current.error());
            pause();
            continue;
        }
        s.report_reachable();
        backoff = std::chrono::milliseconds(100);
        if (s.needs_rebuild(*current)) {
            s.must_rebuild = true;
            continue;
        }
        if (s.options.once && s.revision >= current->revision)
            return {};
        // The watcher follows etcd from here on; the loop looks again after a
        // session (a heartbeat, a digest check when due) or when told.
        if (!s.watcher) {
            if (Status started = s.start_watcher(Follow::all); !started) {
                s.report_unreachable(started.error());
                pause();
                continue;
            }
        }
        if (s.must_rebuild || !s.held.empty())
            continue;
        wait(s.options.once ? std::chrono::milliseconds(50) : s.options.session);
    }
    return {};
}

keyauth::Status Replica::restore_etcd(std::string& report) {
    State& s = *state_;
    if (Status opened = s.open(); !opened)
        return opened;
    if (s.revision == 0)
        return make_error(Errc::invalid_argument,
                          s.options.layout.dir + " is not a replica kept by keyauth-sync");
    auto ca_cert = keyauth::read_small_file(s.options.layout.ca_cert());
    if (!ca_cert)
        return ca_cert.error();
    // Into an empty store only: never mixed with another fleet's records.
    auto present = s.etcd.range(keyauth::kFleetPrefix, keyauth::etcd_prefix_end(keyauth::kFleetPrefix),
                                0, 1);
    if (!present)
        return present.error();
    if (!present->kvs.empty())
        return make_error(Errc::already_exists,
                          "etcd already holds a fleet (" + present->kvs.front().key +
                              "): restore only into an empty etcd");
    auto records = s.registry->list();
    if (!records)
        return records.error();
    std::vector<keyauth::EtcdOperation> batch;
    const auto flush = [&]() -> Status {
        if (batch.empty())
            return {};
        auto written = s.etcd.txn({}, batch);
        batch.clear();
        return written.status();
    };
    for (const keyauth::ClientRecord& record : *records) {
        const auto encoded = keyauth::encode_credentials(record.credentials);
        batch.push_back({keyauth::EtcdOperation::Kind::put, keyauth::fleet_client_key(record.id),
                         std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size())});
        if (batch.size() == kRestoreBatch) {
            if (Status st = flush(); !st)
                return st;
        }
    }
    if (Status st = flush(); !st)
        return st;
    // The CA and the fleet id last: until they are there, no gen runs and
    // no host takes the half-written store for its fleet.
    batch.push_back({keyauth::EtcdOperation::Kind::put, std::string(keyauth::kFleetCaCertKey),
                     *ca_cert});
    if (!s.fleet_id.empty())
        batch.push_back(
            {keyauth::EtcdOperation::Kind::put, std::string(keyauth::kFleetIdKey), s.fleet_id});
    if (Status st = flush(); !st)
        return st;
    report = "restored " + std::to_string(records->size()) + " clients (this host's revision " +
             decimal(s.revision) + ", fleet id '" + s.fleet_id + "') into etcd";
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
    if (!s.held.empty())
        report += " (HELD: " + s.held + ")";
    return (*pair)->first == (*pair)->second;
}

}  // namespace keysync
