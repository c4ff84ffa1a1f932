// N token checks against a registry opened as the servers open it, the
// file's tokens (one a line) in turn: the read path's instructions per
// check, for callgrind.
//
//   registry_check_loop DIR TOKEN-FILE N
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

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
    std::vector<std::string> tokens;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty())
            tokens.push_back(line);
    }
    if (tokens.empty()) {
        std::fprintf(stderr, "no token in %s\n", argv[2]);
        return 2;
    }
    const long n = std::atol(argv[3]);
    const std::int64_t now = keyauth::unix_now();
    long accepted = 0;
    for (long i = 0; i < n; ++i)
        accepted += keyauth::check_token(**registry, tokens[i % tokens.size()], now).accepted();
    std::printf("%ld of %ld accepted\n", accepted, n);
    return 0;
}
