#include "openssl_handles.hpp"

namespace keyauth {

Error openssl_error(const std::string& doing) {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0)
        return make_error(Errc::crypto_error, doing);
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    return make_error(Errc::crypto_error, doing + ": " + reason);
}

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

BioPtr memory_reader(std::string_view text) {
    return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace keyauth
