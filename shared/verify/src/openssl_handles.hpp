// RAII owners for the OpenSSL objects the core uses, and helpers over them
// (errors, memory BIOs) defined in openssl_handles.cpp.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "keyauth/result.hpp"
#include "keyauth/secret.hpp"

namespace keyauth {

struct BioFree {
    void operator()(BIO* p) const { BIO_free_all(p); }
};
struct X509ExtensionFree {
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct BignumFree {
    void operator()(BIGNUM* p) const { BN_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, X509ExtensionFree>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumFree>;

// The latest OpenSSL error, cleared from the queue, prefixed with what failed.
Error openssl_error(const std::string& doing);

// Everything written to a memory BIO, as a string.
std::string bio_contents(BIO* bio);

// A read-only BIO over text that must outlive it.
BioPtr memory_reader(std::string_view text);

}  // namespace keyauth
