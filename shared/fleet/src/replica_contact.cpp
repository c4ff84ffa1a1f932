#include "keyauth/replica_contact.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <utility>

#include "keyauth/decimal.hpp"
#include "keyauth/etcd_registry.hpp"
#include "keyauth/files.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_reader.hpp"

namespace keyauth {
namespace {

// One "name value" line each, in this order, and nothing else: decimals,
// then the held flag, then two names.
constexpr std::array<std::string_view, 4> kNumbers = {"contact", "revision", "over", "generation"};
constexpr std::string_view kHeld = "held";
constexpr std::string_view kCluster = "cluster";
constexpr std::string_view kFleet = "fleet";
constexpr std::size_t kMaxNameLength = 64;

std::string encode(const ReplicaContact& c) {
    const std::array<std::int64_t, 4> values = {c.contact, c.revision, c.over,
                                                static_cast<std::int64_t>(c.generation)};
    std::string text;
    const auto line = [&](std::string_view name, const std::string& value) {
        text.append(name).append(" ").append(value).append("\n");
    };
    for (std::size_t i = 0; i < kNumbers.size(); ++i)
        line(kNumbers[i], std::to_string(values[i]));
    line(kHeld, c.held ? "1" : "0");
    line(kCluster, c.cluster);
    line(kFleet, c.fleet_id);
    return text;
}

// The value of the line `name` at the front of `text`, which moves past it.
std::optional<std::string_view> take_line(std::string_view& text, std::string_view name) {
    if (text.size() <= name.size() || text.substr(0, name.size()) != name ||
        text[name.size()] != ' ')
        return std::nullopt;
    const std::size_t end = text.find('\n', name.size() + 1);
    if (end == std::string_view::npos)
        return std::nullopt;
    const std::string_view value = text.substr(name.size() + 1, end - name.size() - 1);
    text.remove_prefix(end + 1);
    return value;
}

bool is_name(std::string_view value) {
    return value.size() <= kMaxNameLength && std::all_of(value.begin(), value.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
           });
}

// As encode writes it (parse_decimal's one spelling), within int64_t.
std::optional<std::int64_t> decimal(std::string_view value) {
    const auto number = parse_decimal(value);
    if (!number || *number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    return static_cast<std::int64_t>(*number);
}

// The file as keyauth-sync writes it, and whether it had the lines after
// the numbers (an older keyauth-sync's has the four numbers alone: as true
// of its LMDB state, but it says nothing of a hold).
struct DecodedContact {
    ReplicaContact contact;
    bool complete = false;
};

// Anything else (an empty file, one cut short, zeros) is no file at all.
std::optional<DecodedContact> decode(std::string_view text) {
    std::array<std::int64_t, 4> values{};
    for (std::size_t i = 0; i < kNumbers.size(); ++i) {
        const auto line = take_line(text, kNumbers[i]);
        const auto value = line ? decimal(*line) : std::nullopt;
        if (!value)
            return std::nullopt;
        values[i] = *value;
    }
    DecodedContact decoded;
    decoded.contact.contact = values[0];
    decoded.contact.revision = values[1];
    decoded.contact.over = values[2];
    decoded.contact.generation = static_cast<std::uint64_t>(values[3]);
    if (text.empty())
        return decoded;
    const auto held = take_line(text, kHeld);
    const auto cluster = take_line(text, kCluster);
    const auto fleet = take_line(text, kFleet);
    if (!held || (*held != "0" && *held != "1") || !cluster || !is_name(*cluster) || !fleet ||
        !is_name(*fleet) || !text.empty())
        return std::nullopt;
    decoded.contact.held = *held == "1";
    decoded.contact.cluster = std::string(*cluster);
    decoded.contact.fleet_id = std::string(*fleet);
    decoded.complete = true;
    return decoded;
}

// The file is believed only as keyauth-sync writes it: a regular file, not
// a link, of the registry directory's owner, that nobody else may write.
// Anything else is ignored, and `refused` says why; a missing file is not
// refused (none written yet).
std::optional<std::string> read_contact_file(const RegistryLayout& layout, std::string& refused) {
    const std::string path = layout.fleet_contact();
    // O_NONBLOCK: a FIFO put there must not hang `keytool status`.
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ELOOP)
            refused = path + " is a symbolic link";
        else if (errno != ENOENT)
            refused = file_error(errno, path).message;
        return std::nullopt;
    }
    struct stat st {};
    struct stat dir {};
    if (fstat(fd.get(), &st) != 0 || stat(layout.dir.c_str(), &dir) != 0) {
        refused = file_error(errno, path).message;
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode))
        refused = path + " is not a regular file";
    else if (st.st_uid != dir.st_uid)
        refused = path + " is not owned by the registry directory's owner";
    else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        refused = path + " is writable by group or others";
    if (!refused.empty())
        return std::nullopt;
    // Under 300 bytes as written: more is no file of ours.
    auto text = read_up_to(fd.get(), 512, path);
    if (!text) {
        refused = text.error().message;
        return std::nullopt;
    }
    return std::move(*text);
}

std::int64_t decimal_or_zero(const std::optional<std::string>& value) {
    return value ? std::strtoll(value->c_str(), nullptr, 10) : 0;
}

}  // namespace

// Neither fsynced nor its directory: after a power loss the file may be the
// one before, or empty, and neither does harm. An older or missing contact
// only shows the host as stale (keytool status exits 1: it fails safe) until
// the next heartbeat, seconds after keyauth-sync starts again. A revision is
// only ever taken with the LMDB transaction it was written at, and LMDB
// syncs every commit: an older file is still true of LMDB if LMDB has not
// committed since, and is ignored if it has. A file cut short decodes as none.
Status write_replica_contact(const RegistryLayout& layout, const ReplicaContact& contact) {
    if (!is_name(contact.cluster) || !is_name(contact.fleet_id))
        return make_error(Errc::invalid_argument, "the etcd cluster or fleet id is no name");
    const std::string staging = layout.fleet_contact_staging();
    // Left by a keyauth-sync killed between the two steps below (one per
    // registry: nobody else writes it).
    if (unlink(staging.c_str()) != 0 && errno != ENOENT)
        return file_error(errno, staging);
    // Made afresh, never through a link. No secret in it: 0640 with the
    // registry directory's group, as data.mdb, so that a monitoring user of
    // that group can run `keytool status`; whatever the umask.
    struct stat dir {};
    if (stat(layout.dir.c_str(), &dir) != 0)
        return file_error(errno, layout.dir);
    UniqueFd fd(open(staging.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid())
        return file_error(errno, staging);
    // After fchown, which may clear set-id bits.
    if (fchown(fd.get(), static_cast<uid_t>(-1), dir.st_gid) != 0 || fchmod(fd.get(), 0640) != 0)
        return file_error(errno, staging);
    const std::string text = encode(contact);
    // Under 300 bytes: a short write is a full disk.
    const ssize_t written = write(fd.get(), text.data(), text.size());
    if (written != static_cast<ssize_t>(text.size()))
        return file_error(written < 0 ? errno : ENOSPC, staging);
    if (rename(staging.c_str(), layout.fleet_contact().c_str()) != 0)
        return file_error(errno, layout.fleet_contact());
    return {};
}

Status discard_replica_contact(const RegistryLayout& layout) {
    if (unlink(layout.fleet_contact().c_str()) != 0 && errno != ENOENT)
        return file_error(errno, layout.fleet_contact());
    return {};
}

ReplicaProgress replica_progress(const RegistryLayout& layout,
                                 const std::optional<std::string>& stored_revision,
                                 const std::optional<std::string>& stored_contact,
                                 std::uint64_t generation) {
    ReplicaProgress progress{decimal_or_zero(stored_revision), decimal_or_zero(stored_contact), {}};
    // None: a host upgraded from a release that kept contact in LMDB alone,
    // before its first heartbeat, or a registry just rebuilt (whose commit
    // holds the contact).
    auto text = read_contact_file(layout, progress.contact_file_refused);
    if (!text)
        return progress;
    const std::optional<DecodedContact> decoded = decode(*text);
    if (!decoded)
        return progress;
    const ReplicaContact* file = &decoded->contact;
    progress.contact = std::max(progress.contact, file->contact);
    // Only of the state LMDB is in: any commit since (a change applied, a
    // rebuild's new registry) makes LMDB's own revision the one to trust.
    if (progress.revision > 0 && file->over == progress.revision &&
        file->generation == generation && file->revision > progress.revision)
        progress.revision = file->revision;
    return progress;
}

namespace {

// LMDB's own, under writer.lock: its owner only.
Result<ReplicaStatus> status_from_lmdb(const RegistryLayout& layout) {
    auto registry = LmdbRegistry::open(layout.dir, OpenMode::read_write);
    if (!registry)
        return registry.error();
    auto summary =
        (*registry)->summarize({kReplicaRevisionMeta, kReplicaContactMeta, kReplicaHeldMeta,
                                kReplicaClusterMeta, kReplicaFleetIdMeta});
    if (!summary)
        return summary.error();
    const std::vector<std::optional<std::string>>& meta = summary->meta;
    ReplicaStatus status;
    status.clients = summary->clients;
    status.progress = replica_progress(layout, meta[0], meta[1], summary->generation);
    if (meta[2] && !meta[2]->empty())
        status.held = *meta[2];
    status.cluster = meta[3].value_or("");
    status.fleet_id = meta[4].value_or("");
    return status;
}

// What the servers read and keyauth-sync's file: the registry's group.
Result<ReplicaStatus> status_as_recorded(const RegistryLayout& layout) {
    auto reader = RegistryReader::open(layout.dir);
    if (!reader)
        return reader.error();
    auto clients = (*reader)->count();
    if (!clients)
        return clients.error();
    ReplicaStatus status;
    status.clients = *clients;
    status.recorded_only = true;
    auto text = read_contact_file(layout, status.progress.contact_file_refused);
    if (!text) {
        // Only LMDB could tell whether this is a replica at all, and this
        // reader may not open it: unknown, never "not a replica".
        if (status.progress.contact_file_refused.empty())
            status.progress.contact_file_refused =
                layout.fleet_contact() + " is missing (not a replica, or keyauth-sync has not "
                                         "written it since it loaded the registry)";
        return status;
    }
    const std::optional<DecodedContact> decoded = decode(*text);
    if (!decoded || !decoded->complete) {
        status.progress.contact_file_refused =
            layout.fleet_contact() +
            (decoded ? " is an older keyauth-sync's, which does not say whether it holds the "
                       "registry (rewritten within 10 s once keyauth-sync is upgraded)"
                     : " is not as keyauth-sync writes it");
        return status;
    }
    const ReplicaContact* file = &decoded->contact;
    status.progress.revision = file->revision;
    status.progress.contact = file->contact;
    if (file->held)
        status.held =
            "keyauth-sync holds the registry (its log, or keytool status as the "
            "registry's owner, says why)";
    status.cluster = file->cluster;
    status.fleet_id = file->fleet_id;
    return status;
}

}  // namespace

Result<ReplicaStatus> read_replica_status(const RegistryLayout& layout) {
    if (Status s = check_registry_directory(layout.dir); !s)
        return s.error();
    // As open_registry_to_read chooses: writer.lock is the directory owner's.
    if (may_write_registry(layout.dir))
        return status_from_lmdb(layout);
    return status_as_recorded(layout);
}

}  // namespace keyauth
