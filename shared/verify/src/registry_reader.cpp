#include "keyauth/registry_reader.hpp"

#include <time.h>

#include <algorithm>

#include "commit_sequence.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/registry_layout.hpp"
#include "lookup_cache.hpp"
#include "lookup_index.hpp"
#include "registry_directory.hpp"
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

}  // namespace

struct RegistryReader::Impl {
    RegistryLayout layout;
    bool open = false;
    CommitSequence sequence;
    LookupIndex index;
    std::int64_t next_check_millis = 0;
    std::uint64_t reopen_count = 0;
    LookupCache cache;
    VerificationCache verified;

    Status open_files();
    Status ensure_current();
    // ensure_current() without its Status while nothing is due: open, and
    // the replacement check not yet due (the usual call: a clock read).
    bool current_now() {
        return open && monotonic_millis() < next_check_millis;
    }
    // Either file at the path is not the one mapped: replaced, or gone.
    bool replaced_on_disk() const;
    // Runs lookup(index, copy) on one published state; tag names it. The
    // caller has made the reader current (ensure_current), once per lookup.
    template <class Lookup>
    Status read_index(std::uint64_t& tag, LookupIndex::Found& found, Lookup&& lookup);
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

Result<std::unique_ptr<RegistryReader>> RegistryReader::open(std::string_view dir) {
    auto impl = std::make_unique<Impl>();
    impl->layout = RegistryLayout{std::string(dir)};
    if (Status s = impl->open_files(); !s)
        return s.error();
    impl->next_check_millis = monotonic_millis() + kReplacementCheckMillis;
    return std::unique_ptr<RegistryReader>(new RegistryReader(std::move(impl)));
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

// lookup.idx is a hash table: ordered once sorted.
Status RegistryReader::scan(bool backward, const std::function<void()>& start_over,
                            const ClientVisitor& visit) {
    if (Status s = impl_->ensure_current(); !s)
        return s;
    std::vector<ClientRecord> records;
    std::uint64_t tag = 0;
    LookupIndex::Found found = LookupIndex::Found::no;
    Status listed =
        impl_->read_index(tag, found, [&](const LookupIndex& index, unsigned copy) {
            records.clear();  // a retry starts over
            const bool whole =
                index.for_each(copy, [&](std::string_view id, const ClientCredentials& c) {
                    records.push_back(ClientRecord{std::string(id), c});
                });
            return whole ? LookupIndex::Found::yes : LookupIndex::Found::garbage;
        });
    if (!listed)
        return listed;
    std::sort(records.begin(), records.end(), [&](const ClientRecord& a, const ClientRecord& b) {
        return backward ? b.id < a.id : a.id < b.id;
    });
    start_over();
    for (const ClientRecord& record : records) {
        if (!visit(record.id, record.credentials))
            break;
    }
    return {};
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

VerificationCache* RegistryReader::verification_cache() {
    return &impl_->verified;
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
