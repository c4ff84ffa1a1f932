// The replica's directory: made with the servers' modes and group, and
// replaced whole, atomically, when it is rebuilt.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "keyauth/files.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_layout.hpp"

namespace keysync {

// Makes the registry directory and its LMDB files if missing: directory
// 0750 (2750 with a group), data.mdb, lookup.idx and commit.seq 0640 in the group,
// writer.lock 0600, as `keytool init --group G` leaves them (no CA key: a
// replica host never holds it).
keyauth::Status prepare_registry(const keyauth::RegistryLayout& layout,
                                 const std::optional<std::string>& group);

// Builds a new registry beside layout.dir (fill writes it) in a directory
// of its own, DIR.rebuild.XXXXXX (mkdtemp: beside a registry in /tmp, no
// other user can take its name first), with the same modes and group and a
// copy of the other files (certificates), then exchanges the two
// directories in one rename(2) and removes the old one. Servers see the new
// data.mdb's inode and reopen it. A fill that fails leaves no new directory
// (it may commit as it goes: nobody reads it).
// `swapped` runs right after the exchange, before anything else;
// `still_replaceable`, under the old registry's write lock just before the
// exchange, may refuse it (the directory built is then removed).
// `replica_lock` (lock_replica's) becomes the new directory's sync.lock,
// locked before the exchange: no second keyauth-sync finds it free.
keyauth::Status rebuild_registry(
    const keyauth::RegistryLayout& layout, keyauth::UniqueFd& replica_lock,
    const std::function<keyauth::Status(keyauth::LmdbRegistry&)>& fill,
    const std::function<void()>& swapped = [] {},
    const std::function<keyauth::Status()>& still_replaceable = [] { return keyauth::Status(); });

// rebuild_registry in two steps, for a caller that keeps what it built
// while writer.lock is busy at the exchange. build_rebuild: the new
// registry beside layout.dir, filled (nothing left on failure), where it is.
// exchange_rebuild: `before_exchange` (if any) on that new registry, which
// may change it or refuse the exchange, then the
// exchange as rebuild_registry's; a writer.lock still busy after its wait
// (Errc::busy) leaves the new registry for another try, any other failure
// removes it. discard_rebuild removes a new registry kept and not exchanged.
struct BuiltRegistry {
    keyauth::RegistryLayout layout;  // DIR.rebuild.XXXXXX
    keyauth::UniqueFd lock;          // its sync.lock, held
};
keyauth::Result<BuiltRegistry> build_rebuild(
    const keyauth::RegistryLayout& layout,
    const std::function<keyauth::Status(keyauth::LmdbRegistry&)>& fill);
keyauth::Status exchange_rebuild(
    const keyauth::RegistryLayout& layout, BuiltRegistry& built,
    const std::function<keyauth::Status(keyauth::LmdbRegistry&)>& before_exchange,
    const std::function<void()>& swapped, const std::function<keyauth::Status()>& still_replaceable,
    keyauth::UniqueFd& replica_lock);
void discard_rebuild(const keyauth::RegistryLayout& built);

// Whether rebuild_registry can ever exchange layout.dir: it builds
// DIR.rebuild.XXXXXX in DIR's parent and renames DIR itself, which a DIR that is a
// mount point (or on another device than its parent) or a parent
// keyauth-sync cannot create in refuses. Asked at start, before etcd is
// read, so that it is not found after a load of minutes; nothing is changed.
keyauth::Status check_replaceable(const keyauth::RegistryLayout& layout);

// The registry's directory with the symbolic links of its path followed,
// resolved once at start: a rename would move a link named as the registry,
// and the directory it names would be left behind, stale. A path that is
// no link (or does not exist yet) is kept as given.
keyauth::Result<keyauth::RegistryLayout> registry_behind_links(const keyauth::RegistryLayout& layout);

// Leftovers of rebuilds that died half way (DIR.rebuild.XXXXXX, or
// DIR.rebuild of keyauth-sync before), removed if they are directories of
// keyauth-sync's user (judged by lstat: no link followed). Anything else so
// named, another user's or a link, is left as it is: its paths and owners
// are returned, to be said.
std::vector<std::string> remove_rebuild_leftovers(const keyauth::RegistryLayout& layout);

// The lock one keyauth-sync holds on a registry for its whole life,
// DIR/sync.lock: inside the directory, where no other user can make it
// first (beside a registry in /tmp anyone could make DIR.sync.lock, and
// hold it for ever). A rebuild carries it over to the new directory
// (exchange_rebuild). Refused at once, naming the holder's pid, if another
// one holds it; refused in a directory of another user's (not even made).
keyauth::Result<keyauth::UniqueFd> lock_replica(const keyauth::RegistryLayout& layout);

// Writes ca_cert.pem (0644) if its contents differ; Errc::invalid_argument,
// the file left as it is, unless they are one PEM certificate of a CA and
// nothing more (the servers would fail to start on it, every host at once).
keyauth::Status install_ca_certificate(const keyauth::RegistryLayout& layout,
                                       const std::string& pem);

}  // namespace keysync
