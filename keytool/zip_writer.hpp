// The "Download *.zip" bundle of the seed: stored (uncompressed) entries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keytool {

struct ZipEntry {
    std::string name;
    std::string_view contents;
    mode_t mode;
};

// The archive bytes. It holds the private key: callers keep it in a SecretString.
std::string make_zip(const std::vector<ZipEntry>& entries, std::int64_t unix_time);

}  // namespace keytool
