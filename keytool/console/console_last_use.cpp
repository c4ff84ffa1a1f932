#include "console_last_use.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace keytool::console {
namespace {

// Two writes within one tick of the file system's clock can share an mtime.
constexpr std::int64_t kClockTickNs = 2'000'000'000;

std::int64_t nanoseconds(const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

bool LastUseRecords::Stamp::operator==(const Stamp& other) const noexcept {
    return device == other.device && inode == other.inode && size == other.size &&
           modified_ns == other.modified_ns;
}

LastUseRecords::LastUseRecords(std::vector<std::string> paths, FleetSource fleet)
    : fleet_(std::move(fleet)) {
    for (auto& path : paths)
        files_.push_back(File{std::move(path), {}, true, {}});
}

keyauth::Status LastUseRecords::refresh_file(File& file) {
    struct stat st {};
    if (::stat(file.path.c_str(), &st) != 0) {
        const int error = errno;
        return keyauth::make_error(error == ENOENT ? keyauth::Errc::not_found
                                                   : keyauth::Errc::io_error,
                                   file.path + ": cannot open (" + std::strerror(error) + ")");
    }
    const Stamp stamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                      static_cast<std::int64_t>(st.st_size), nanoseconds(st.st_mtim)};
    if (!file.read_again && stamp == file.stamp)
        return {};
    timespec read_at{};
    clock_gettime(CLOCK_REALTIME, &read_at);
    auto uses = keyauth::read_last_use(file.path);
    if (!uses)
        return uses.error();
    file.uses = std::move(*uses);
    file.stamp = stamp;
    // Within a clock tick of the last write, another write may keep the
    // same mtime: read again until the tick is over. A time in the future
    // (set by the file's owner) is no tick: a write changes it anyway.
    const std::int64_t now_ns = nanoseconds(read_at);
    file.read_again =
        stamp.modified_ns <= now_ns && stamp.modified_ns + kClockTickNs >= now_ns;
    merge_again_ = true;
    return {};
}

keyauth::Status LastUseRecords::refresh_fleet() {
    const auto now = std::chrono::steady_clock::now();
    if (fleet_read_at_ && now - *fleet_read_at_ < kFleetRereadInterval) {
        if (!fleet_error_.empty())
            return keyauth::make_error(keyauth::Errc::io_error, fleet_error_);
        return {};
    }
    fleet_read_at_ = now;
    auto fleet = fleet_();
    if (!fleet) {
        fleet_error_ = "last use in etcd: " + fleet.error().message;
        return keyauth::make_error(fleet.error().code, fleet_error_);
    }
    fleet_error_.clear();
    keyauth::LastUseMap uses;
    for (auto& host : fleet->hosts) {
        keyauth::merge_last_use(uses, host.uses);
        host.uses.clear();
    }
    fleet_uses_ = std::move(uses);
    fleet_hosts_ = std::move(fleet->hosts);
    // A host left out may be stale: stale_hosts null, not "[]" without it.
    fleet_markers_read_ = fleet->markers_read && fleet->refused.empty();
    fleet_warnings_.clear();
    fleet_refused_.clear();
    for (auto& refused : fleet->refused) {
        fleet_warnings_.push_back("last use in etcd left out: " + refused.error.message);
        fleet_refused_.push_back(std::move(refused.host));
    }
    for (auto& warning : fleet->warnings)
        fleet_warnings_.push_back("last use in etcd: " + std::move(warning));
    merge_again_ = true;
    return {};
}

// A file given that cannot be read stops the console from starting, as it
// stops list; the fleet's shards do not (a host's bad shard or etcd away for
// a moment): the answers name that error (last_use_errors) until it clears.
keyauth::Status LastUseRecords::load() {
    for (auto& file : files_) {
        if (keyauth::Status s = refresh_file(file); !s)
            return s;
    }
    refresh();
    return {};
}

std::vector<std::string> LastUseRecords::refresh() {
    std::vector<std::string> errors;
    for (auto& file : files_) {
        if (keyauth::Status s = refresh_file(file); !s)
            errors.push_back(s.error().message);
    }
    if (fleet_) {
        if (keyauth::Status s = refresh_fleet(); !s)
            errors.push_back(s.error().message);
        errors.insert(errors.end(), fleet_warnings_.begin(), fleet_warnings_.end());
    }
    if (merge_again_) {
        keyauth::LastUseMap merged = fleet_uses_;
        for (const auto& file : files_)
            keyauth::merge_last_use(merged, file.uses);
        merged_ = std::move(merged);
        merge_again_ = false;
    }
    return errors;
}

}  // namespace keytool::console
