#include "last_use_publisher.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "keyauth/clock.hpp"
#include "keyauth/fleet_last_use.hpp"
#include "keyauth/last_use.hpp"
#include "keyauth/registry_reader.hpp"

namespace keysync {

using keyauth::Errc;
using keyauth::make_error;
using keyauth::Status;

namespace {

constexpr std::chrono::seconds kRetryAfterFailure{60};

// A line in keyauth-sync's log (stderr), with the time, as the replica's.
void say(const std::string& message) {
    char when[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::fprintf(stderr, "%s keyauth-sync: %s\n", when, message.c_str());
}

}  // namespace

Status add_last_use_files(std::string_view list, std::vector<std::string>& files) {
    for (;;) {
        const std::size_t comma = list.find(',');
        const std::string_view name = list.substr(0, comma);
        if (name.empty())
            return make_error(Errc::invalid_argument,
                              "--publish-last-use needs FILE[,FILE...], no empty name");
        files.emplace_back(name);
        if (comma == std::string_view::npos)
            return {};
        list.remove_prefix(comma + 1);
    }
}

LastUsePublisher::LastUsePublisher(LastUsePublishOptions options)
    : options_(std::move(options)), thread_([this] { loop(); }) {}

LastUsePublisher::~LastUsePublisher() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void LastUsePublisher::loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        const Status s = publish_once();
        lock.lock();
        if (!s) {
            ++options_.metrics->last_use_publish_errors;
            // Said once a streak: an hourly line per host is noise, not news.
            if (failure_.empty())
                say("last use not published (again every " +
                    std::to_string(options_.interval.count()) + " s): " + s.error().message);
            failure_ = s.error().message;
            published_fleet_id_.clear();  // etcd's state unknown: read it again
        } else if (!failure_.empty()) {
            say("last use published again");
            failure_.clear();
        }
        // After a failure (a file the server has not written yet, etcd
        // away) again within a minute, not an hour later.
        const auto wait =
            failure_.empty() ? options_.interval : std::min(options_.interval, kRetryAfterFailure);
        wake_.wait_for(lock, wait, [this] { return stopping_; });
    }
}

keyauth::Result<std::vector<std::string>> LastUsePublisher::shards_to_publish() {
    // Every file, or nothing: a shard without a file's uses would show its
    // clients older than they are.
    keyauth::LastUseMap uses;
    for (const auto& path : options_.files) {
        auto one = keyauth::read_last_use(path);
        if (!one)
            return one.error();
        keyauth::merge_last_use(uses, *one);
    }
    // What the servers read: no LMDB, no lock, so the writer never waits.
    auto registry = keyauth::RegistryReader::open(options_.registry_dir);
    if (!registry)
        return registry.error();
    // And what this host published before: a file made again (moved aside,
    // a new disk, a reinstall under the same host name) must not erase
    // the host's history and show a client used last week as never used.
    // A shard that is not one holds no history: it is written over. Only
    // the registry's clients are kept as it is read: what etcd holds under
    // this host's prefix is bounded by etcd's quota, not by the registry.
    Status lookup;  // the first lookup that failed: nothing published then
    const auto in_registry = [&registry, &lookup](std::string_view id) {
        keyauth::ClientCredentials credentials;
        const Status found = (*registry)->find(id, credentials);
        if (!found && found.code() != Errc::unknown_client && lookup)
            lookup = found;
        return found.ok();
    };
    for (const auto& entry : published_) {
        keyauth::LastUseMap held;
        keyauth::ShardEntries entries;
        if (keyauth::merge_last_use_shard(entry.second, in_registry, held, entries))
            keyauth::merge_last_use(uses, held);
    }
    if (!lookup)
        return lookup.error();
    keyauth::LastUseMap known;
    for (const auto& [id, seconds] : uses) {
        keyauth::ClientCredentials credentials;
        const Status found = (*registry)->find(id, credentials);
        if (found)
            known.emplace_hint(known.end(), id, seconds);
        else if (found.code() != Errc::unknown_client)
            return found.error();
    }
    return keyauth::encode_last_use_shards(known);
}

// What etcd holds of this host's, once per fleet id (and after a failure).
Status LastUsePublisher::load_published(const std::string& fleet_id) {
    if (published_fleet_id_ == fleet_id)
        return {};
    const std::string prefix = keyauth::fleet_usage_host_prefix(fleet_id, options_.host);
    auto range = etcd_->range(prefix, keyauth::etcd_prefix_end(prefix));
    if (!range)
        return range.error();
    published_.clear();
    for (auto& kv : range->kvs)
        published_.emplace(std::move(kv.key), std::move(kv.value));
    published_fleet_id_ = fleet_id;
    return {};
}

Status LastUsePublisher::reconcile(const std::string& fleet_id,
                                   const std::vector<std::string>& shards) {
    using Kind = keyauth::EtcdOperation::Kind;
    // One shard a request: each stays far below etcd's request limit.
    for (std::size_t i = 0; i < shards.size(); ++i) {
        const std::string key = keyauth::fleet_usage_shard_key(fleet_id, options_.host, i);
        const auto held = published_.find(key);
        if (held != published_.end() && held->second == shards[i])
            continue;
        auto put = etcd_->txn({}, {{Kind::put, key, shards[i]}});
        if (!put)
            return put.error();
        published_[key] = shards[i];
        ++options_.metrics->last_use_published;
    }
    for (auto it = published_.begin(); it != published_.end();) {
        const auto shard = keyauth::parse_fleet_usage_key(fleet_id, it->first);
        if (shard && shard->shard < shards.size()) {
            ++it;
            continue;
        }
        auto erased = etcd_->txn({}, {{Kind::erase, it->first, ""}});
        if (!erased)
            return erased.error();
        it = published_.erase(it);
    }
    return {};
}

Status LastUsePublisher::publish_once() {
    if (!etcd_) {
        auto connected = options_.connect();
        if (!connected)
            return connected.error();
        etcd_ = std::move(*connected);
    }
    auto fleet_id = keyauth::read_fleet_id(*etcd_);
    if (!fleet_id)
        return fleet_id.status();
    if (Status s = load_published(*fleet_id); !s)
        return s;
    auto shards = shards_to_publish();
    if (!shards)
        return shards.status();
    if (Status s = reconcile(*fleet_id, *shards); !s)
        return s;
    return put_marker(*fleet_id);
}

// Every pass, shards changed or not: readers tell a host that stopped
// publishing from one whose clients went unused by its age.
Status LastUsePublisher::put_marker(const std::string& fleet_id) {
    const keyauth::PublishMarker marker{keyauth::unix_now(), options_.interval.count()};
    auto put = etcd_->txn({}, {{keyauth::EtcdOperation::Kind::put,
                                keyauth::fleet_usage_marker_key(fleet_id, options_.host),
                                keyauth::encode_publish_marker(marker)}});
    if (!put)
        return put.error();
    return {};
}

}  // namespace keysync
