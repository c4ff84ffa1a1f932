// Test tool: registers clients in bulk, in one write transaction, so a test
// can bring a registry to the edge of its index's capacity in a second
// rather than hundreds of `keytool gen`s. Never installed.
//   keyauth_fill_registry REGISTRY_DIR TEMPLATE_ID PREFIX TOTAL
// Adds PREFIX1, PREFIX2, ... until the registry holds TOTAL clients. Each
// gets TEMPLATE_ID's validity and a certificate fingerprint and token hash of
// its own that no real certificate or token has.
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "keyauth/lmdb_registry.hpp"

namespace {

int fail(const std::string& message) {
    std::fprintf(stderr, "keyauth_fill_registry: %s\n", message.c_str());
    return 1;
}

// The template's bytes with the counter mixed into the last eight: distinct
// per client, and from the template's own.
template <class Bytes>
void mark(Bytes& bytes, std::uint64_t n) {
    for (std::size_t i = 0; i < 8; ++i)
        bytes[bytes.size() - 1 - i] ^= static_cast<std::uint8_t>(n >> (8 * i));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5)
        return fail("usage: keyauth_fill_registry DIR TEMPLATE_ID PREFIX TOTAL");
    const std::string prefix = argv[3];
    const std::size_t total = std::strtoull(argv[4], nullptr, 10);
    auto registry = keyauth::LmdbRegistry::open(argv[1], keyauth::OpenMode::read_write);
    if (!registry)
        return fail(registry.error().message);
    auto count = (*registry)->count();
    if (!count)
        return fail(count.error().message);
    if (*count >= total)
        return 0;
    auto writer = (*registry)->begin_write();
    if (!writer)
        return fail(writer.error().message);
    keyauth::ClientCredentials templ;
    if (auto s = (*writer)->find(argv[2], templ); !s)
        return fail(s.error().message);
    std::uint64_t n = 0;
    for (std::size_t have = *count; have < total;) {
        ++n;
        keyauth::ClientRecord record{prefix + std::to_string(n), templ};
        mark(record.credentials.certificate_fingerprint.bytes, n);
        mark(record.credentials.token_hash.bytes, n);
        auto s = (*writer)->put(record, false);
        if (s) {
            ++have;
        } else if (s.code() != keyauth::Errc::already_exists) {
            return fail(s.error().message);
        }
    }
    if (auto s = (*writer)->commit(); !s)
        return fail(s.error().message);
    return 0;
}
