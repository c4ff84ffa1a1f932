// lookup.idx's records (format 4), as a reader finds them in the heap:
// arbitrary bytes decode strictly or not at all, and what decodes
// re-encodes to exactly the same bytes (no byte a writer would not write).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz_support.hpp"
#include "index_file.hpp"

using namespace keyauth::index_file;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > kMaxRecordBytes)
        return 0;
    // A reader's buffer: a record's first word is read before its length
    // is known, so the buffer always holds at least one.
    alignas(8) unsigned char record[kMaxRecordBytes] = {};
    std::memcpy(record, data, size);
    std::string_view id;
    keyauth::ClientCredentials decoded;
    if (!decode_record(record, size, id, decoded))
        return 0;
    FUZZ_CHECK(size == record_length(record) && size % 8 == 0);
    FUZZ_CHECK(keyauth::is_valid_client_id(id));
    FUZZ_CHECK(decoded.serial.length >= 1 && decoded.serial.length <= keyauth::kMaxSerialBytes);
    FUZZ_CHECK(decoded.validity.not_before <= decoded.validity.not_after);
    alignas(8) unsigned char encoded[kMaxRecordBytes];
    FUZZ_CHECK(encode_record(id, decoded, encoded) == size);
    FUZZ_CHECK(std::memcmp(encoded, data, size) == 0);
    return 0;
}
