#include "client_bundle.hpp"

#include "zip_writer.hpp"

namespace keytool {

BundleNames default_bundle_names(const std::string& client_id) {
    return BundleNames{client_id + "_cert.pem", client_id + "_key.pem", client_id + "_token"};
}

keyauth::SecretString token_file_contents(const keyauth::IssuedClient& issued) {
    return keyauth::SecretString(std::string(issued.token.text.view()) + "\n");
}

keyauth::SecretString make_client_bundle(const keyauth::IssuedClient& issued,
                                         const BundleNames& names) {
    const keyauth::SecretString token_file = token_file_contents(issued);
    return keyauth::SecretString(
        make_zip({{names.certificate, issued.certificate.certificate_pem, 0644},
                  {names.private_key, issued.certificate.private_key_pem.view(), 0600},
                  {names.token, token_file.view(), 0600}},
                 issued.record.credentials.issued_at));
}

}  // namespace keytool
