// Test tool: moves a registered client's validity window, so tests can make
// expired and not-yet-valid clients without waiting. Never installed.
//   keyauth_set_validity REGISTRY_DIR CLIENT_ID NOT_BEFORE NOT_AFTER
// Times are seconds relative to now ("-60", "+2", "0").
#include <cstdio>
#include <cstdlib>
#include <string>

#include "keyauth/clock.hpp"
#include "keyauth/lmdb_registry.hpp"

namespace {

std::int64_t parse_time(const std::string& text) {
    return keyauth::unix_now() + std::strtoll(text.c_str(), nullptr, 10);
}

int fail(const std::string& message) {
    std::fprintf(stderr, "keyauth_set_validity: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5)
        return fail("usage: keyauth_set_validity DIR ID NOT_BEFORE NOT_AFTER");
    auto registry = keyauth::LmdbRegistry::open(argv[1], keyauth::OpenMode::read_write);
    if (!registry)
        return fail(registry.error().message);
    auto writer = (*registry)->begin_write();
    if (!writer)
        return fail(writer.error().message);
    keyauth::ClientRecord record{argv[2], {}};
    if (auto s = (*writer)->find(record.id, record.credentials); !s)
        return fail(s.error().message);
    record.credentials.validity = {parse_time(argv[3]), parse_time(argv[4])};
    if (auto s = (*writer)->put(record, true); !s)
        return fail(s.error().message);
    if (auto s = (*writer)->commit(); !s)
        return fail(s.error().message);
    return 0;
}
