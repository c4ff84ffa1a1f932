// Registries made by keyauth 0.1: LMDB with its own lock.mdb, which the
// servers could write. The first writer of a newer release upgrades them.
#pragma once

#include "keyauth/registry_layout.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

// Under the write lock: data.mdb copied to a new inode, lock.mdb removed.
Status upgrade_legacy_registry(const RegistryLayout& layout);

}  // namespace keyauth
