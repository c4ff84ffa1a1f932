#include "keyauth/registry_layout.hpp"

#include <cstdlib>

namespace keyauth {

RegistryLayout resolve_registry(std::optional<std::string_view> flag) {
    std::string dir;
    if (flag) {
        dir = std::string(*flag);
    } else if (const char* env = std::getenv(std::string(kRegistryEnvVar).c_str());
               env != nullptr && *env != '\0') {
        dir = env;
    } else {
        dir = std::string(kDefaultRegistryDir);
    }
    while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
    return RegistryLayout{dir};
}

}  // namespace keyauth
