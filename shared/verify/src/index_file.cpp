#include "index_file.hpp"

#include <cstring>

#include <sodium.h>

namespace keyauth::index_file {
namespace {

constexpr char kMagic[8] = {'k', 'e', 'y', 'a', 'u', 't', 'h', 'i'};
static_assert(crypto_shorthash_KEYBYTES == kHashKeyBytes);

constexpr std::uint8_t kSuspendedFlag = 0x01;
constexpr std::uint8_t kGraceFlag = 0x02;
constexpr std::uint8_t kKnownFlags = kSuspendedFlag | kGraceFlag;

// Little-endian: one load where the CPU is.
std::uint64_t get_u64(const unsigned char* in) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, in, sizeof bits);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    bits = __builtin_bswap64(bits);
#endif
    return bits;
}

}  // namespace

std::size_t encode_record(std::string_view id, const ClientCredentials& c, unsigned char* out) {
    const bool grace = c.previous.present();
    const std::size_t length = record_bytes(id.size(), grace);
    std::memset(out, 0, length);
    out[0] = static_cast<unsigned char>(id.size());
    out[1] = static_cast<unsigned char>((c.suspended ? kSuspendedFlag : 0) |
                                        (grace ? kGraceFlag : 0));
    unsigned char* p = out + kRecordHeadBytes;
    std::memcpy(p, id.data(), id.size());
    p += id.size();
    encode_credential_fields(c, p);
    if (grace)
        encode_previous_credentials(c.previous, p + kCredentialFieldsSize);
    return length;
}

std::size_t record_length(const unsigned char* first_word) {
    const std::size_t id_length = first_word[0];
    if (id_length == 0 || id_length > kMaxClientIdLength || (first_word[1] & ~kKnownFlags) != 0)
        return 0;
    return record_bytes(id_length, (first_word[1] & kGraceFlag) != 0);
}

bool decode_record(const unsigned char* bytes, std::size_t length, std::string_view& id,
                   ClientCredentials& out, std::string_view checked_id) {
    if (length < 8 || record_length(bytes) != length)
        return false;
    const std::size_t id_length = bytes[0];
    const bool grace = (bytes[1] & kGraceFlag) != 0;
    const unsigned char* p = bytes + kRecordHeadBytes;
    const std::string_view stored_id(reinterpret_cast<const char*>(p), id_length);
    // Empty never equals a stored id: record_length refused length 0.
    if (stored_id != checked_id && !is_valid_client_id(stored_id))
        return false;
    p += id_length;
    ClientCredentials c;
    c.suspended = (bytes[1] & kSuspendedFlag) != 0;
    if (!decode_credential_fields(p, c))
        return false;
    p += kCredentialFieldsSize;
    if (grace) {
        decode_previous_credentials(p, c.previous);
        if (c.previous.valid_until <= 0)
            return false;
        p += kPreviousCredentialsSize;
    }
    for (const unsigned char* padding = p; padding < bytes + length; ++padding) {
        if (*padding != 0)
            return false;
    }
    id = stored_id;
    out = c;
    return true;
}

Result<IndexFile> IndexFile::checked(Result<MappedFile> file, const std::string& path) {
    if (!file)
        return file.error();
    const auto* head = reinterpret_cast<const FileHeader*>(file->data());
    if (std::memcmp(head->magic, kMagic, sizeof kMagic) == 0 && head->format < kFormat) {
        return make_error(Errc::registry_corrupt,
                          path + " was made by an older keyauth: run any keytool command on "
                                 "its registry as root once (e.g. keytool list) to upgrade it");
    }
    // Bounds first, so that the size below cannot overflow.
    if (std::memcmp(head->magic, kMagic, sizeof kMagic) != 0 || head->format != kFormat ||
        head->slots < kMinSlots || head->slots > kMaxSlots || head->heap_bytes > kMaxHeapBytes ||
        head->heap_bytes % kPageBytes != 0 ||
        file->size() != file_bytes(head->slots, head->heap_bytes)) {
        return make_error(Errc::registry_corrupt,
                          path + " is not a lookup index this keyauth can read");
    }
    IndexFile index;
    index.slots_ = head->slots;
    index.heap_bytes_ = head->heap_bytes;
    index.file_ = std::move(*file);
    return index;
}

Result<IndexFile> IndexFile::open(const std::string& path, bool writable) {
    return checked(MappedFile::open(path, writable, kPageBytes), path);
}

Result<IndexFile> IndexFile::map(int fd, const std::string& path) {
    return checked(MappedFile::map(fd, path, true, kPageBytes), path);
}

void write_new_header(FileHeader& head, std::uint64_t slots, std::uint64_t heap_bytes) {
    std::memcpy(head.magic, kMagic, sizeof kMagic);
    head.format = kFormat;
    head.slots = slots;
    head.heap_bytes = heap_bytes;
    randombytes_buf(head.hash_key, sizeof head.hash_key);
}

Probe IndexFile::keyed_probe(const unsigned char* key, std::size_t bytes) const {
    unsigned char hash[8];
    crypto_shorthash(hash, key, bytes, header()->hash_key);
    const std::uint64_t bits = get_u64(hash);
    // The home takes the hash's high bits (multiply-shift), the tag its low.
    return {home_of(bits), bits & kTagMask};
}

Probe IndexFile::id_probe(std::string_view id) const {
    return keyed_probe(reinterpret_cast<const unsigned char*>(id.data()), id.size());
}

Probe IndexFile::fingerprint_probe(const Fingerprint& fingerprint) const {
    return keyed_probe(fingerprint.bytes.data(), fingerprint.bytes.size());
}

bool IndexFile::read_record(std::uint64_t word, unsigned char* out, std::string_view& id,
                            ClientCredentials& credentials, std::string_view checked_id) const {
    // The first word must lie inside the heap before it is read.
    if (!names_heap(word))
        return false;
    const std::uint64_t offset = (record_index_of(word) - 1) * 8;
    const unsigned char* at = heap() + offset;
    load_words(out, at, 8);
    const std::size_t length = record_length(out);
    if (length == 0 || length > heap_bytes_ - offset)
        return false;
    load_words(out + 8, at + 8, length - 8);
    return decode_record(out, length, id, credentials, checked_id);
}

}  // namespace keyauth::index_file
