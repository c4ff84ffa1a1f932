#include "keyauth/registry_reader.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>

#include "commit_sequence.hpp"
#include "index_walk.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/registry_layout.hpp"
#include "lookup_cache.hpp"
#include "lookup_index.hpp"
#include "registry_directory.hpp"
#include "fingerprint_memo.hpp"
#include "verification_cache.hpp"

namespace keyauth {
namespace {

// How often a reader looks for a registry replaced on disk.
constexpr long kReplacementCheckMillis = 200;
// Openings in a row a registry swapped in meanwhile may spoil: swaps are
// a rebuild's, far apart, so more means something else keeps moving it.
constexpr int kOpenAttempts = 3;
// A reader reads again only when a commit was published while it read; a
// commit takes at least a disk sync, so more than a few in a row means
// something else moves the counter.
constexpr int kMaxReads = 64;
// A walk in id order of lookup.idx, a hash table, holds at most this many
// records at once (~220 bytes each): a larger registry is walked in ranges
// of ids, one pass over the records each.
constexpr std::size_t kWalkRangeRecords = 64 * 1024;
// Slot words a walk reads from the table at once (64 KiB).
constexpr std::size_t kWalkTableChunk = 8192;
// A range is numbered in one byte a record.
constexpr std::size_t kMaxWalkRanges = 255;
// Ids sampled per range to choose its bounds: a range then strays from its
// expected size by about an eighth (1 / sqrt(64)), and a range that holds
// more than a walk may is taken in parts.
constexpr std::size_t kSamplesPerRange = 64;
// A walk of several passes starts over when a commit is published between
// two of them; one that meets a commit every time gives up.
constexpr int kMaxWalks = 8;

std::int64_t monotonic_millis() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Status unknown(LookupIndex::Found found, const char* what) {
    if (found == LookupIndex::Found::yes)
        return {};
    return make_error(Errc::unknown_client, what);
}

// The records offered that come first in a walk's order (at most capacity
// of them), and how many were offered: a range of a walk, whole or a part.
// Ordered through their positions: a record is ~220 bytes to move.
class FirstInWalk {
  public:
    FirstInWalk(bool backward, std::size_t capacity) : backward_(backward), capacity_(capacity) {}

    bool before(std::string_view a, std::string_view b) const { return backward_ ? b < a : a < b; }
    // Room for as many as a walk of entries records may hold, at once: a
    // vector grown by doubling would, for a range one record past a power
    // of two, touch twice what it holds (a list's peak +7 MB at 10^5).
    void reserve_for(std::uint64_t entries) {
        const auto held = static_cast<std::size_t>(std::min<std::uint64_t>(capacity_, entries));
        records_.reserve(held);
        order_.reserve(held);
    }
    void clear() {
        records_.clear();
        order_.clear();
        offered_ = 0;
    }
    // Held as offered until full; then order_ is a max-heap in walk order
    // (the last record held on top), whose top a record before it replaces.
    void offer(std::string_view id, const ClientCredentials& credentials) {
        ++offered_;
        if (records_.size() < capacity_) {
            order_.push_back(static_cast<std::uint32_t>(records_.size()));
            records_.push_back(ClientRecord{std::string(id), credentials});
            if (records_.size() == capacity_)
                std::make_heap(order_.begin(), order_.end(), by_id());
        } else if (before(id, records_[order_.front()].id)) {
            std::pop_heap(order_.begin(), order_.end(), by_id());
            ClientRecord& replaced = records_[order_.back()];
            replaced.id.assign(id);
            replaced.credentials = credentials;
            std::push_heap(order_.begin(), order_.end(), by_id());
        }
    }
    bool all_held() const { return offered_ <= capacity_; }
    // Once, after the pass: visit(record) in walk order while it returns
    // true; the last record visited (null if none).
    template <class Visit>
    const ClientRecord* visit_sorted(Visit&& visit) {
        std::sort(order_.begin(), order_.end(), by_id());
        const ClientRecord* last = nullptr;
        for (std::uint32_t at : order_) {
            last = &records_[at];
            if (!visit(*last))
                break;
        }
        return last;
    }

  private:
    struct ById {
        const FirstInWalk* walk;
        bool operator()(std::uint32_t a, std::uint32_t b) const {
            return walk->before(walk->records_[a].id, walk->records_[b].id);
        }
    };
    ById by_id() const { return ById{this}; }

    bool backward_;
    std::size_t capacity_;
    std::size_t offered_ = 0;
    std::vector<ClientRecord> records_;
    std::vector<std::uint32_t> order_;
};

}  // namespace

struct RegistryReader::Impl {
    RegistryLayout layout;
    bool for_server = false;
    bool open = false;
    CommitSequence sequence;
    LookupIndex index;
    std::int64_t next_check_millis = 0;
    std::uint64_t reopen_count = 0;
    LookupCache cache;
    VerificationCache verified;
    FingerprintMemo fingerprints;  // of objects, never verdicts: kept across commits
    std::size_t walk_range = kWalkRangeRecords;

    Status open_files();
    Status ensure_current();
    // ensure_current() without its Status while nothing is due: open, and
    // the replacement check not yet due (the usual call: a clock read).
    bool current_now() { return open && monotonic_millis() < next_check_millis; }
    // Either file at the path is not the one mapped: replaced, or gone.
    bool replaced_on_disk() const;
    // Runs lookup(index, copy) on one published state; tag names it. The
    // caller has made the reader current (ensure_current), once per lookup.
    template <class Lookup>
    Status read_index(std::uint64_t& tag, LookupIndex::Found& found, Lookup&& lookup);
    // One walk of scan(); changed: a pass read another state than the
    // first (a commit published meanwhile, or a file reopened), so what
    // was visited is not one state's.
    Status walk(bool backward, const ClientVisitor& visit, bool& changed);
    // A lookup the cache could not answer: read_index, then remember(tag)
    // what was found. Out of line: the cache hit stays short.
    template <class Lookup, class Remember>
    [[gnu::noinline]] Status find_in_index(Lookup&& lookup, Remember&& remember,
                                           const char* unknown_what);
    // The published version now, if the copy it names says so and no newer
    // file or registry has replaced this one (0 if not: read the index,
    // which follows a replacement at once).
    std::uint64_t published() const {
        const std::uint64_t version = sequence.load();
        return version != 0 && index.version(version & 1) == version && !index.retired() ? version
                                                                                         : 0;
    }
    // Opens the registry again. The tags below keep only 16 bits of the
    // reopen count, and a rebuilt registry counts its versions from 1
    // again: nothing remembered under the files before may survive.
    Status reopen() {
        ++reopen_count;
        cache.forget();
        verified.forget();
        return open_files();
    }
    // Unique per published state within one opening; never 0.
    std::uint64_t tag_of(std::uint64_t version) const {
        return ((reopen_count + 1) << 48) ^ version;
    }
};

// Two files, read-only: the counter, then the index. Neither is LMDB's.
Status RegistryReader::Impl::open_files() {
    open = false;
    const std::string& dir = layout.dir;
    for (int attempt = 1;; ++attempt) {
        if (Status s = check_registry_directory(dir); !s)
            return s;
        if (for_server) {
            if (Status s = check_owner_for_servers(dir); !s)
                return s;
        }
        auto opened_sequence = CommitSequence::open_for_reading(layout.commit_sequence());
        if (!opened_sequence)
            return with_dir(dir, opened_sequence.error());
        auto opened_index = LookupIndex::open(layout.lookup_index());
        if (!opened_index)
            return with_dir(dir, opened_index.error());
        // The counter must be the one that guards this index: a registry
        // swapped in meanwhile brings its own.
        FileIdentity now;
        if (identify(layout.commit_sequence(), now) &&
            now == FileIdentity{opened_sequence->device(), opened_sequence->inode()}) {
            sequence = std::move(*opened_sequence);
            index = std::move(*opened_index);
            open = true;
            return {};
        }
        // A swap (keyauth-sync's exchange) landed between the two opens: the
        // new registry is whole at the path, so open it at once rather than
        // refuse every lookup until the next replacement check.
        if (attempt == kOpenAttempts)
            return make_error(Errc::not_found, "registry " + dir + " changed while opening");
    }
}

bool RegistryReader::Impl::replaced_on_disk() const {
    FileIdentity on_disk_index;
    FileIdentity on_disk_sequence;
    return !identify(layout.lookup_index(), on_disk_index) ||
           !identify(layout.commit_sequence(), on_disk_sequence) ||
           !(on_disk_index == FileIdentity{index.device(), index.inode()}) ||
           !(on_disk_sequence == FileIdentity{sequence.device(), sequence.inode()});
}

// Notices a registry replaced on disk (new inode, or gone) and reopens.
Status RegistryReader::Impl::ensure_current() {
    const std::int64_t now = monotonic_millis();
    if (now >= next_check_millis) {
        next_check_millis = now + kReplacementCheckMillis;
        if (!open || replaced_on_disk()) {
            if (Status s = reopen(); !s)
                return s;
        }
    }
    if (!open)
        return make_error(Errc::not_found, "registry " + layout.dir + " is not open");
    return {};
}

// Never waits: the copy the counter names is one no writer touches until
// the counter moves again. If it moved while we read, the copy we read may
// have been changing, and the copy it names now is complete: read again.
// A reopen below leaves the reader current, so a retry needs no new look.
template <class Lookup>
Status RegistryReader::Impl::read_index(std::uint64_t& tag, LookupIndex::Found& found,
                                        Lookup&& lookup) {
    for (int read = 0; read < kMaxReads; ++read) {
        const std::uint64_t version = sequence.load();
        const unsigned copy = version & 1;
        const bool named = version != 0 && index.version(copy) == version;
        const LookupIndex::Found answer = named ? lookup(index, copy) : LookupIndex::Found::no;
        const bool retired = index.retired();
        if (sequence.reload() != version)
            continue;
        if (retired) {  // grown or rebuilt: the new file is at the path
            if (Status s = reopen(); !s)
                return s;
            continue;
        }
        if (!named && replaced_on_disk()) {
            // A writer that died between renaming a new index in and
            // retiring this one, then another commit: the counter names a
            // copy of the new file. Follow the path now, not at the next
            // check.
            if (Status s = reopen(); !s)
                return s;
            continue;
        }
        if (!named) {
            return make_error(Errc::registry_corrupt,
                              "registry " + layout.dir +
                                  ": lookup.idx does not hold the published state (a power loss "
                                  "or a writer that died): run any keytool command as root, e.g. "
                                  "keytool list, to repair it");
        }
        if (answer == LookupIndex::Found::garbage) {
            return make_error(Errc::registry_corrupt,
                              "registry " + layout.dir + ": lookup.idx is corrupt");
        }
        tag = tag_of(version);
        found = answer;
        return {};
    }
    return make_error(Errc::io_error,
                      "registry " + layout.dir + ": the commit sequence moved on every read");
}

template <class Lookup, class Remember>
Status RegistryReader::Impl::find_in_index(Lookup&& lookup, Remember&& remember,
                                           const char* unknown_what) {
    std::uint64_t tag = 0;
    LookupIndex::Found found = LookupIndex::Found::no;
    if (Status s = read_index(tag, found, lookup); !s)
        return s;
    if (found == LookupIndex::Found::yes)
        remember(tag);
    return unknown(found, unknown_what);
}

RegistryReader::RegistryReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegistryReader::~RegistryReader() = default;

Result<std::unique_ptr<RegistryReader>> RegistryReader::open_as(std::string_view dir,
                                                                bool for_server) {
    auto impl = std::make_unique<Impl>();
    impl->layout = RegistryLayout{std::string(dir)};
    impl->for_server = for_server;
    if (Status s = impl->open_files(); !s)
        return s.error();
    impl->next_check_millis = monotonic_millis() + kReplacementCheckMillis;
    return std::unique_ptr<RegistryReader>(new RegistryReader(std::move(impl)));
}

Result<std::unique_ptr<RegistryReader>> RegistryReader::open(std::string_view dir) {
    return open_as(dir, false);
}

Result<std::unique_ptr<RegistryReader>> RegistryReader::open_for_server(std::string_view dir) {
    return open_as(dir, true);
}

// While nothing has been published since a client was last looked up, its
// answer comes from the cache; otherwise from the index. Any caller's id
// (keytool's, keyauth-sync's): checked here, as the index's find needs it.
Status RegistryReader::find(std::string_view id, ClientCredentials& out) {
    if (!is_valid_client_id(id))
        return make_error(Errc::unknown_client, "unknown client");
    if (Status s = impl_->ensure_current(); !s)
        return s;
    if (const std::uint64_t version = impl_->published();
        version != 0 && impl_->cache.find(impl_->tag_of(version), id, out)) {
        return {};
    }
    return impl_->find_in_index(
        [&](const LookupIndex& index, unsigned copy) { return index.find(copy, id, out); },
        [&](std::uint64_t tag) { impl_->cache.remember(tag, id, out); }, "unknown client");
}

// find(), with the index's lines for id loading while meanwhile() runs. The
// prefetch reads the published copy unchecked, for addresses only; the
// lookup after it is find()'s, checked the same way. The id's characters
// were checked by the caller (ClientStore::find_while); its length is the
// one bound checked here.
Status RegistryReader::find_while(std::string_view id, ClientCredentials& out,
                                  Meanwhile meanwhile) {
    if (id.empty() || id.size() > kMaxClientIdLength) {
        meanwhile();
        return make_error(Errc::unknown_client, "unknown client");
    }
    if (Status s = impl_->ensure_current(); !s) {
        meanwhile();
        return s;
    }
    // A client found in the lookup cache needs no line of the index.
    const std::uint64_t version = impl_->published();
    if (version != 0 && impl_->cache.find(impl_->tag_of(version), id, out)) {
        meanwhile();
        return {};
    }
    const index_file::Probe probe = impl_->index.id_probe(id);
    const std::uint64_t probed_in = impl_->reopen_count;
    if (version != 0)
        impl_->index.prefetch(version & 1, probe, id.size());
    meanwhile();
    return impl_->find_in_index(
        [&](const LookupIndex& index, unsigned copy) {
            // A reopen while reading maps another file, with its own hash key.
            return impl_->reopen_count == probed_in ? index.find(copy, id, probe, out)
                                                    : index.find(copy, id, out);
        },
        [&](std::uint64_t tag) { impl_->cache.remember(tag, id, out); }, "unknown client");
}

Status RegistryReader::find_by_fingerprint(const Fingerprint& fingerprint, std::string& id,
                                           ClientCredentials& out) {
    if (Status s = impl_->ensure_current(); !s)
        return s;
    if (const std::uint64_t version = impl_->published();
        version != 0 && impl_->cache.find(impl_->tag_of(version), fingerprint, id, out)) {
        return {};
    }
    return impl_->find_in_index(
        [&](const LookupIndex& index, unsigned copy) {
            return index.find_by_fingerprint(copy, fingerprint, id, out);
        },
        [&](std::uint64_t tag) { impl_->cache.remember(tag, fingerprint, id, out); },
        "unknown certificate");
}

// lookup.idx is a hash table: a registry of one range is read whole and
// sorted; a larger one is walked range by range (see walk), each range read
// by a pass of its own over the same published state.
Status RegistryReader::scan(bool backward, const std::function<void()>& start_over,
                            const ClientVisitor& visit) {
    if (Status s = impl_->ensure_current(); !s)
        return s;
    for (int walk = 0; walk < kMaxWalks; ++walk) {
        start_over();
        bool changed = false;
        if (Status s = impl_->walk(backward, visit, changed); !s || !changed)
            return s;
    }
    return make_error(Errc::io_error,
                      "registry " + impl_->layout.dir + ": a commit was published during each of " +
                          std::to_string(kMaxWalks) +
                          " walks of lookup.idx: list again when fewer changes are made");
}

// Every pass reads lookup.idx through its own descriptor (IndexWalkFile),
// never the map: what it reads does not stay in the walker's RSS. The first
// pass reads the published copy's id table in chunks and notes which
// records it names (NamedRecords, a bit per heap word). A registry of at
// most walk_range clients is then read whole, in heap order, in the same
// pass. Else that pass also samples its ids: the records of every k-th slot
// of a table whose order is a keyed hash's (a uniform sample no choice of
// ids can skew), whose quantiles bound up to kMaxWalkRanges ranges of about
// half walk_range each. A second pass reads every record in heap order and
// numbers it, by its rank there, with its range (a byte a record); then one
// pass per range reads only that range's records, in heap order, holds
// them, sorts and visits them. A range holding more than walk_range records
// (a sample far off) is taken in parts: the first walk_range, then those
// after the last visited. Every pass goes through read_index and must read
// the state the first read, from the file the walk opened: else the walk is
// not one state's (and what an earlier pass noted does not describe the
// copy), so the pass reads nothing and scan starts over.
Status RegistryReader::Impl::walk(bool backward, const ClientVisitor& visit, bool& changed) {
    auto opened = IndexWalkFile::open(layout.lookup_index(), index.device(), index.inode(),
                                      index.slots(), index.heap_bytes());
    if (!opened) {
        if (opened.error().code != Errc::not_found)
            return opened.error();
        changed = true;  // replaced since it was mapped: reopen, start over
        return reopen();
    }
    const IndexWalkFile& file = *opened;
    const std::uint64_t opened_in = reopen_count;
    const std::size_t capacity = std::max<std::size_t>(walk_range, 1);
    FirstInWalk held(backward, capacity);
    RecordReads records(file);
    NamedRecords named;
    std::uint64_t walked_state = 0;
    // One pass: pass(copy) reads, having reset what a retry redoes.
    auto one_pass = [&](auto&& pass) -> Status {
        std::uint64_t tag = 0;
        bool skipped = false;
        LookupIndex::Found found = LookupIndex::Found::no;
        Status read = read_index(tag, found, [&](const LookupIndex& now, unsigned copy) {
            skipped = reopen_count != opened_in ||
                      (walked_state != 0 && tag_of(now.version(copy)) != walked_state);
            if (skipped)
                return LookupIndex::Found::yes;
            return pass(copy) ? LookupIndex::Found::yes : LookupIndex::Found::garbage;
        });
        if (!read)
            return read;
        if (walked_state == 0)
            walked_state = tag;
        changed = skipped || tag != walked_state;
        return {};
    };
    const auto visit_record = [&](const ClientRecord& record) {
        return visit(record.id, record.credentials);
    };
    const auto offer = [&](std::string_view id, const ClientCredentials& c) { held.offer(id, c); };
    // The offsets of every record named, in heap order, for RecordReads.
    const auto every_named = [&] {
        return [&, rank = std::uint64_t{0},
                cursor = NamedRecords::Cursor{}](std::uint64_t& offset) mutable {
            if (rank == named.count())
                return false;
            offset = named.offset_of(rank++, cursor);
            return true;
        };
    };

    std::vector<std::string> sample;
    std::uint64_t entries = 0;
    Status first = one_pass([&](unsigned copy) {
        held.clear();
        sample.clear();
        named.reset(file.heap_bytes());
        entries = index.entries(copy);
        // Every k-th slot, full or not (a table has more slots than records).
        const std::uint64_t samples = std::min<std::uint64_t>(
            kMaxWalkRanges * kSamplesPerRange, entries * kSamplesPerRange * 2 / capacity + 1);
        const std::uint64_t every = std::max<std::uint64_t>(1, file.slots() / samples);
        std::vector<std::uint64_t> sampled;
        std::vector<std::uint64_t> words(kWalkTableChunk);
        for (std::uint64_t from = 0; from < file.slots(); from += words.size()) {
            const auto chunk = static_cast<std::size_t>(
                std::min<std::uint64_t>(words.size(), file.slots() - from));
            if (!file.read_slots(copy, from, chunk, words.data()))
                return false;
            for (std::size_t at = 0; at < chunk; ++at) {
                if (words[at] == 0)
                    continue;
                if (!named.add(words[at]))
                    return false;
                if (entries > capacity && (from + at) % every == 0)
                    sampled.push_back((index_file::record_index_of(words[at]) - 1) * 8);
            }
        }
        named.rank();
        if (named.count() != entries)
            return false;  // the header's count is not its table's: garbage, never a cut list
        held.reserve_for(entries);
        if (entries <= capacity)
            return records.read(every_named(), offer);
        std::sort(sampled.begin(), sampled.end());
        std::size_t next_sample = 0;
        return records.read(
            [&](std::uint64_t& offset) {
                if (next_sample == sampled.size())
                    return false;
                offset = sampled[next_sample++];
                return true;
            },
            [&](std::string_view id, const ClientCredentials&) { sample.emplace_back(id); });
    });
    if (!first || changed)
        return first;
    if (entries <= capacity) {
        held.visit_sorted(visit_record);
        return {};
    }

    std::sort(sample.begin(), sample.end());
    const std::size_t half_range = std::max<std::size_t>(capacity / 2, 1);
    const std::size_t ranges = std::max<std::size_t>(
        1, std::min<std::uint64_t>(kMaxWalkRanges, (entries + half_range - 1) / half_range));
    std::vector<std::string> bounds;  // range r holds [bounds[r - 1], bounds[r])
    for (std::size_t r = 1; r < ranges && !sample.empty(); ++r)
        bounds.push_back(std::move(sample[r * sample.size() / ranges]));
    std::vector<std::string>().swap(sample);

    // The i-th record in heap order: by its rank, its range + 1.
    std::vector<std::uint8_t> range_of;
    Status numbered = one_pass([&](unsigned) {
        range_of.assign(static_cast<std::size_t>(named.count()), 0);
        std::size_t rank = 0;
        return records.read(every_named(), [&](std::string_view id, const ClientCredentials&) {
            range_of[rank++] = static_cast<std::uint8_t>(
                1 + (std::upper_bound(bounds.begin(), bounds.end(), id) - bounds.begin()));
        });
    });
    if (!numbered || changed)
        return numbered;

    for (std::size_t step = 0; step <= bounds.size(); ++step) {
        const std::size_t range = backward ? bounds.size() - step : step;
        std::string last_visited;
        for (bool part_after = false;; part_after = true) {
            Status read = one_pass([&](unsigned) {
                held.clear();
                // memchr: a walk of 10^7 clients looks through its ~10 MB
                // of range numbers once a range, 255 times.
                std::size_t rank = 0;
                NamedRecords::Cursor cursor;
                return records.read(
                    [&](std::uint64_t& offset) {
                        if (rank >= range_of.size())
                            return false;
                        const void* next =
                            std::memchr(range_of.data() + rank, static_cast<int>(range + 1),
                                        range_of.size() - rank);
                        if (next == nullptr)
                            return false;
                        rank = static_cast<std::size_t>(static_cast<const std::uint8_t*>(next) -
                                                        range_of.data());
                        offset = named.offset_of(rank++, cursor);
                        return true;
                    },
                    [&](std::string_view id, const ClientCredentials& c) {
                        if (!part_after || held.before(last_visited, id))
                            held.offer(id, c);
                    });
            });
            if (!read || changed)
                return read;
            bool stopped = false;
            const ClientRecord* last = held.visit_sorted([&](const ClientRecord& record) {
                stopped = !visit_record(record);
                return !stopped;
            });
            if (stopped)
                return {};
            if (held.all_held() || last == nullptr)
                break;
            last_visited = last->id;
        }
    }
    return {};
}

void RegistryReader::set_walk_range(std::size_t records) {
    impl_->walk_range = records;
}

Result<std::size_t> RegistryReader::count() {
    if (Status s = impl_->ensure_current(); !s)
        return s.error();
    std::uint64_t tag = 0;
    std::uint64_t entries = 0;
    LookupIndex::Found found = LookupIndex::Found::no;
    Status read = impl_->read_index(tag, found, [&](const LookupIndex& index, unsigned copy) {
        entries = index.entries(copy);
        return LookupIndex::Found::yes;
    });
    if (!read)
        return read.error();
    return static_cast<std::size_t>(entries);
}

// The state a lookup made now would read. A registry that cannot be read
// has a generation of its own, never one a cached verdict carries.
std::uint64_t RegistryReader::generation() {
    if (!impl_->current_now() && !impl_->ensure_current())
        return ~std::uint64_t{0};
    const std::uint64_t version = impl_->published();
    return version != 0 ? impl_->tag_of(version) : ~std::uint64_t{0};
}

std::uint64_t RegistryReader::commit_sequence() {
    return impl_->ensure_current() ? impl_->published() : 0;
}

void RegistryReader::hand_back_pages() {
    if (impl_->open)
        impl_->index.hand_back_pages();
}

VerificationCache* RegistryReader::verification_cache() {
    return &impl_->verified;
}

FingerprintMemo* RegistryReader::fingerprint_memo() {
    return &impl_->fingerprints;
}

// LocalRegistry's walks.
Result<std::size_t> LocalRegistry::count() {
    std::size_t entries = 0;
    Status counted = scan(
        false, [&] { entries = 0; },
        [&](std::string_view, const ClientCredentials&) {
            ++entries;
            return true;
        });
    if (!counted)
        return counted.error();
    return entries;
}

Result<std::vector<ClientRecord>> LocalRegistry::list() {
    std::vector<ClientRecord> records;
    Status listed = scan(
        false, [&] { records.clear(); },
        [&](std::string_view id, const ClientCredentials& credentials) {
            records.push_back(ClientRecord{std::string(id), credentials});
            return true;
        });
    if (!listed)
        return listed.error();
    return records;
}

}  // namespace keyauth
