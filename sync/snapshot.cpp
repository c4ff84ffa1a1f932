#include "snapshot.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "keyauth/etcd_registry.hpp"

namespace keysync {

using keyauth::Errc;
using keyauth::make_error;
using keyauth::Result;
using keyauth::Status;

namespace {

// A page belongs to the snapshot only if it was read at the snapshot's
// revision, in the snapshot's cluster. etcd's header says its current
// revision (>= the one asked for), not the one read, so the proof is that no
// record is newer than the revision and the store is not behind it.
Status check_page(const keyauth::EtcdRange& page, std::int64_t at, const std::string& cluster) {
    if (page.cluster_id != cluster)
        return make_error(Errc::io_error, "etcd cluster changed during a snapshot (" + cluster +
                                              " then " + page.cluster_id + ")");
    if (page.revision < at)
        return make_error(Errc::io_error, "etcd answered at revision " +
                                              std::to_string(page.revision) +
                                              ", behind the snapshot's " + std::to_string(at));
    for (const keyauth::EtcdKeyValue& kv : page.kvs) {
        if (kv.mod_revision > at)
            return make_error(Errc::io_error, "etcd sent " + keyauth::printable_fleet_key(kv.key) +
                                                  " at revision " +
                                                  std::to_string(kv.mod_revision) +
                                                  " in a snapshot at " + std::to_string(at));
    }
    return {};
}

// etcd 3.4 visits every key from a range's start to its end for each
// range it answers, whatever its limit, to count them (etcd issue 11057):
// n keys read in pages of p over the whole prefix cost n^2 / (2p) visits,
// 5 * 10^7 at a million clients (~14 s of etcd's CPU, BENCHMARKS.md). So
// each page is asked of a window instead: the range of keys sharing the
// first `depth` bytes of the last key read, whose end bounds the visits.
// The windows tile the prefix in order (the next page starts after the last
// key read, or at the window's end once the window is exhausted), so the
// snapshot holds exactly what one range would. Only the cost adapts: a
// window etcd counts more than four pages in is narrowed, one that held
// less than half a page is widened.
class Windows {
  public:
    Windows(std::string from, std::string end, std::int64_t page)
        : from_(std::move(from)),
          end_(std::move(end)),
          page_(page),
          depth_(keyauth::kFleetPrefix.size()) {}

    const std::string& from() const { return from_; }
    // The end of the window for the next page: never past the prefix's.
    std::string window_end() const {
        if (depth_ <= keyauth::kFleetPrefix.size())
            return end_;
        const std::string& base = last_.empty() ? from_ : last_;
        std::string end = keyauth::etcd_prefix_end(base.substr(0, depth_));
        return end.size() == 1 && end[0] == '\0' ? end_ : std::min(end, end_);
    }
    // After a page of [from(), window): whether the prefix is read whole.
    bool next(const keyauth::EtcdRange& page, const std::string& window) {
        window_keys_ += static_cast<std::int64_t>(page.kvs.size());
        if (!page.kvs.empty()) {
            const std::string& first = page.kvs.front().key;
            last_ = page.kvs.back().key;
            if (page.count > 4 * page_) {
                // As narrow as the page's own keys' common prefix, at least
                // one byte narrower than this window.
                std::size_t common = 0;
                while (common < first.size() && common < last_.size() &&
                       first[common] == last_[common])
                    ++common;
                depth_ = std::max(depth_ + 1, common);
            }
        }
        if (page.more) {
            from_ = last_ + '\0';
            return false;
        }
        if (window >= end_)
            return true;
        if (window_keys_ * 2 < page_ && depth_ > keyauth::kFleetPrefix.size())
            --depth_;
        from_ = window;
        last_.clear();  // the next window is from_'s
        window_keys_ = 0;
        return false;
    }

  private:
    std::string from_;
    std::string end_;
    std::int64_t page_;
    std::size_t depth_;
    std::string last_;              // the last key read in the current window
    std::int64_t window_keys_ = 0;  // read in the current window
};

}  // namespace

// Every page at one revision: `at`, or (0) the revision the first page was
// read at, asked for explicitly in every later page. Taking each answer's
// header revision instead moved the snapshot forward page by page, and the
// watch then skipped what changed on the pages already read.
Result<Snapshot> read_snapshot(keyauth::EtcdClient& etcd, std::int64_t at, const RecordSink& sink,
                               const std::function<Status()>& between_pages) {
    Snapshot snapshot;
    Windows windows(std::string(keyauth::kFleetPrefix),
                    keyauth::etcd_prefix_end(keyauth::kFleetPrefix), etcd.read_page());
    for (bool first = true;; first = false) {
        const std::string window = windows.window_end();
        auto page = etcd.range(windows.from(), window, at, etcd.read_page());
        if (!page)
            return page.error();
        if (first) {
            snapshot.cluster_id = page->cluster_id;
            if (at == 0)
                at = page->revision;
        }
        if (Status s = check_page(*page, at, snapshot.cluster_id); !s)
            return s.error();
        if (page->more && page->kvs.empty())
            return make_error(Errc::io_error, "etcd answered an empty page with more to come");
        for (const keyauth::EtcdKeyValue& kv : page->kvs) {
            if (kv.key == keyauth::kFleetCaCertKey) {
                snapshot.ca_cert = kv.value;
                continue;
            }
            if (kv.key == keyauth::kFleetIdKey) {
                snapshot.fleet_id = kv.value;
                continue;
            }
            if (!keyauth::is_fleet_client_key(kv.key))
                continue;
            auto record = keyauth::fleet_record(kv);
            auto verdict = record ? sink(*record) : RecordVerdict::refusal(record.error().message);
            if (!verdict)
                return verdict.error();
            if (verdict->refused) {
                if (++snapshot.refused <= kRefusalsSaid)
                    snapshot.refusals.emplace_back(kv.key, std::move(*verdict->refused));
                continue;
            }
            ++snapshot.clients;
        }
        if (windows.next(*page, window))
            break;
        if (Status s = between_pages(); !s)
            return s.error();
    }
    snapshot.revision = at;
    return snapshot;
}

Result<bool> fleet_unchanged_between(keyauth::EtcdClient& etcd, std::int64_t ours,
                                     std::int64_t head, const std::string& cluster_id) {
    const std::string end = keyauth::etcd_prefix_end(keyauth::kFleetPrefix);
    auto changed = etcd.changed_since(keyauth::kFleetPrefix, end, head, ours);
    if (!changed)
        return changed.error();
    if (!changed->kvs.empty() || changed->cluster_id != cluster_id)
        return false;
    auto before = etcd.count(keyauth::kFleetPrefix, end, ours);
    if (!before) {
        if (before.error().code == Errc::not_found)
            return false;  // compacted: the watch is rebuilt from a snapshot anyway
        return before.error();
    }
    return before->cluster_id == cluster_id && before->count == changed->count;
}

}  // namespace keysync
