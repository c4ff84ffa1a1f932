// The page's files, compiled into keytool (embed_assets.cmake): nothing is
// read from disk or the network at run time.
#pragma once

#include <string_view>
#include <vector>

namespace keytool::console {

struct Asset {
    std::string_view path;  // "/", "/console.js", ...
    std::string_view content_type;
    std::string_view body;
};

const std::vector<Asset>& console_assets();

}  // namespace keytool::console
