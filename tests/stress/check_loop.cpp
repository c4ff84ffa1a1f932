// N token checks of one token against a registry opened as the servers open
// it: the read path's instructions per check, for callgrind.
//
//   registry_check_loop DIR TOKEN-FILE N
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "keyauth/authenticator.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/lmdb_registry.hpp"
#include "keyauth/registry_reader.hpp"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: registry_check_loop DIR TOKEN-FILE N\n");
        return 2;
    }
    auto registry = keyauth::RegistryReader::open(argv[1]);
    if (!registry) {
        std::fprintf(stderr, "%s\n", registry.error().message.c_str());
        return 2;
    }
    std::ifstream in(argv[2]);
    std::string token;
    std::getline(in, token);
    const long n = std::atol(argv[3]);
    const std::int64_t now = keyauth::unix_now();
    long accepted = 0;
    for (long i = 0; i < n; ++i)
        accepted += keyauth::check_token(**registry, token, now).accepted() ? 1 : 0;
    std::printf("%ld of %ld accepted\n", accepted, n);
    return 0;
}
