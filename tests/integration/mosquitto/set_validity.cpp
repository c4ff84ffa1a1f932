// Test helper: moves a registered client's validity window, which keytool
// cannot do, so that expired and not-yet-valid credentials can be tested.
//
//   set_validity REGISTRY_DIR ID NOT_BEFORE NOT_AFTER
//
// Times are seconds relative to now ("-60", "+2", "0").
#include <cstdio>
#include <cstdlib>
#include <string>

#include <keyauth/clock.hpp>
#include <keyauth/registry.hpp>

namespace {

int fail(const std::string& message) {
    std::fprintf(stderr, "set_validity: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace keyauth;
    if (argc != 5)
        return fail("usage: set_validity REGISTRY_DIR ID NOT_BEFORE NOT_AFTER");
    const std::int64_t now = unix_now();
    auto registry = LmdbRegistry::open(argv[1], OpenMode::read_write);
    if (!registry)
        return fail(registry.error().message);
    auto writer = registry.value()->begin_write();
    if (!writer)
        return fail(writer.error().message);
    ClientRecord record{argv[2], {}};
    if (Status s = writer.value()->find(record.id, record.credentials); !s) {
        return fail(s.error().message);
    }
    record.credentials.validity.not_before = now + std::strtoll(argv[3], nullptr, 10);
    record.credentials.validity.not_after = now + std::strtoll(argv[4], nullptr, 10);
    if (Status s = writer.value()->put(record, true); !s)
        return fail(s.error().message);
    if (Status s = writer.value()->commit(); !s)
        return fail(s.error().message);
    return 0;
}
