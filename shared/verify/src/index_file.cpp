#include "index_file.hpp"

#include <cstring>

#include <sodium.h>

namespace keyauth::index_file {
namespace {

constexpr char kMagic[8] = {'k', 'e', 'y', 'a', 'u', 't', 'h', 'i'};
static_assert(crypto_shorthash_KEYBYTES == kHashKeyBytes);

}  // namespace

Result<IndexFile> IndexFile::checked(Result<MappedFile> file, const std::string& path) {
    if (!file)
        return file.error();
    const auto* head = reinterpret_cast<const FileHeader*>(file->data());
    if (std::memcmp(head->magic, kMagic, sizeof kMagic) == 0 && head->format < kFormat) {
        return make_error(Errc::registry_corrupt,
                          path + " was made by an older keyauth: run any keytool command on "
                                 "its registry as root once (e.g. keytool list) to upgrade it");
    }
    if (std::memcmp(head->magic, kMagic, sizeof kMagic) != 0 || head->format != kFormat ||
        head->record_bytes != kEncodedCredentialsSize || head->log2_slots < kMinLog2Slots ||
        head->log2_slots > kMaxLog2Slots ||
        file->size() != file_bytes(std::uint64_t{1} << head->log2_slots)) {
        return make_error(Errc::registry_corrupt,
                          path + " is not a lookup index this keyauth can read");
    }
    IndexFile index;
    index.slots_ = std::uint64_t{1} << head->log2_slots;
    index.file_ = std::move(*file);
    return index;
}

Result<IndexFile> IndexFile::open(const std::string& path, bool writable) {
    return checked(MappedFile::open(path, writable, kPageBytes), path);
}

Result<IndexFile> IndexFile::map(int fd, const std::string& path) {
    return checked(MappedFile::map(fd, path, true, kPageBytes), path);
}

void write_new_header(FileHeader& head, unsigned log2_slots) {
    std::memcpy(head.magic, kMagic, sizeof kMagic);
    head.format = kFormat;
    head.log2_slots = log2_slots;
    head.record_bytes = kEncodedCredentialsSize;
    randombytes_buf(head.hash_key, sizeof head.hash_key);
}

std::uint64_t IndexFile::id_home(std::string_view id) const {
    std::uint64_t hash = 0;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&hash),
                     reinterpret_cast<const unsigned char*>(id.data()), id.size(),
                     header()->hash_key);
    return hash & mask();
}

std::uint64_t IndexFile::fingerprint_home(const Fingerprint& fingerprint) const {
    std::uint64_t hash = 0;
    std::memcpy(&hash, fingerprint.bytes.data(), sizeof hash);
    return hash & mask();
}

}  // namespace keyauth::index_file
