// What a client is handed once: the token file's contents and the seed's
// "Download *.zip" bundle, the same for `keytool gen --zip` and the console.
#pragma once

#include <string>

#include "keyauth/issuance.hpp"
#include "keyauth/token.hpp"

namespace keytool {

struct BundleNames {
    std::string certificate;  // "myapp01_cert.pem"
    std::string private_key;  // "myapp01_key.pem"
    std::string token;        // "myapp01_token"
};

BundleNames default_bundle_names(const std::string& client_id);

// The token and a newline.
keyauth::SecretString token_file_contents(const keyauth::IssuedClient& issued);

// The three files as a zip with gen's modes, dated at issue time.
keyauth::SecretString make_client_bundle(const keyauth::IssuedClient& issued,
                                         const BundleNames& names);

}  // namespace keytool
