#include "keyauth/replica_contact.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "keyauth/files.hpp"

namespace keyauth {
namespace {

// One "name decimal" line each, in this order, and nothing else.
constexpr std::array<std::string_view, 4> kFields = {"contact", "revision", "over", "generation"};

std::string encode(const ReplicaContact& c) {
    const std::array<std::int64_t, 4> values = {c.contact, c.revision, c.over,
                                                static_cast<std::int64_t>(c.generation)};
    std::string text;
    for (std::size_t i = 0; i < kFields.size(); ++i)
        text.append(kFields[i]).append(" ").append(std::to_string(values[i])).append("\n");
    return text;
}

// Anything else (an empty file, one cut short, zeros) is no file at all.
std::optional<ReplicaContact> decode(std::string_view text) {
    std::array<std::int64_t, 4> values{};
    for (std::size_t i = 0; i < kFields.size(); ++i) {
        if (text.substr(0, kFields[i].size() + 1) != std::string(kFields[i]) + " ")
            return std::nullopt;
        text.remove_prefix(kFields[i].size() + 1);
        const auto [end, error] =
            std::from_chars(text.data(), text.data() + text.size(), values[i]);
        if (error != std::errc() || end == text.data() || values[i] < 0 ||
            end == text.data() + text.size() || *end != '\n')
            return std::nullopt;
        text.remove_prefix(static_cast<std::size_t>(end - text.data()) + 1);
    }
    if (!text.empty())
        return std::nullopt;
    return ReplicaContact{values[0], values[1], values[2], static_cast<std::uint64_t>(values[3])};
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
    // Under a hundred bytes as written: more is no file of ours.
    auto text = read_up_to(fd.get(), 256, path);
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
    // Under a hundred bytes: a short write is a full disk.
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
    const std::optional<ReplicaContact> file = decode(*text);
    if (!file)
        return progress;
    progress.contact = std::max(progress.contact, file->contact);
    // Only of the state LMDB is in: any commit since (a change applied, a
    // rebuild's new registry) makes LMDB's own revision the one to trust.
    if (progress.revision > 0 && file->over == progress.revision &&
        file->generation == generation && file->revision > progress.revision)
        progress.revision = file->revision;
    return progress;
}

}  // namespace keyauth
