#include <sys/stat.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "audited_change.hpp"
#include "commands.hpp"
#include "fleet.hpp"
#include "keyauth/client_id.hpp"
#include "keyauth/clock.hpp"
#include "keyauth/duration.hpp"
#include "keyauth/files.hpp"
#include "keyauth/staged_files.hpp"
#include "keyauth/issuance.hpp"
#include "keyauth/provisioning.hpp"
#include "client_bundle.hpp"
#include "record_store.hpp"

namespace keytool {
namespace {

struct OutputPaths {
    std::string certificate;
    std::string private_key;
    std::string token;
};

bool is_directory(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// --output PREFIX gives PREFIX_cert.pem ...; a directory gives DIR/<id>_cert.pem ...
OutputPaths output_paths(const std::optional<std::string>& output, const std::string& id) {
    std::string prefix = output ? *output : "./" + id;
    if (output && (prefix.back() == '/' || is_directory(prefix))) {
        if (prefix.back() != '/')
            prefix += '/';
        prefix += id;
    }
    return OutputPaths{prefix + "_cert.pem", prefix + "_key.pem", prefix + "_token"};
}

std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

keyauth::Status stage_outputs(keyauth::StagedFiles& files, const keyauth::IssuedClient& issued,
                              const OutputPaths& paths, const std::optional<std::string>& zip,
                              bool force) {
    const keyauth::SecretString token_file = token_file_contents(issued);
    auto s = files.stage(paths.certificate, issued.certificate.certificate_pem, 0644, force);
    if (s)
        s = files.stage(paths.private_key, issued.certificate.private_key_pem.view(), 0600, force);
    if (s)
        s = files.stage(paths.token, token_file.view(), 0600, force);
    if (s && zip) {
        const keyauth::SecretString bundle = make_client_bundle(
            issued,
            {base_name(paths.certificate), base_name(paths.private_key), base_name(paths.token)});
        s = files.stage(*zip, bundle.view(), 0600, force);
    }
    return s;
}

void print_json(const keyauth::ClientRecord& record, const OutputPaths& paths,
                const std::optional<std::string>& zip) {
    nlohmann::ordered_json saved;
    saved["id"] = record.id;
    saved["certificate"] = paths.certificate;
    saved["private_key"] = paths.private_key;
    saved["token"] = paths.token;
    if (zip)
        saved["zip"] = *zip;
    add_credential_fields(saved, record.credentials);
    std::printf("%s\n", json_text(saved).c_str());
}

// gen and rotate: issue, register and save once, as request says.
int issue_and_save(const Invocation& invocation, const Arguments& arguments,
                   keyauth::IssueRequest& request, AuditedChange& change) {
    // Refused before anything is written.
    if (auto s = keyauth::check_client_id(request.client_id); !s)
        return change.fail(s.error());
    auto days = parse_days(arguments, keyauth::kDefaultClientDays);
    if (!days)
        return change.fail(days.error());
    request.days = *days;
    change.event().add("days", std::to_string(request.days));
    if (request.replace)
        change.event().add("replace", "yes");
    if (request.rotate_grace)
        change.event().add("grace", std::to_string(*request.rotate_grace));
    if (auto s = keyauth::check_issue_request(request); !s)
        return change.fail(s.error());
    const bool overwrite = request.replace || arguments.flag("force");
    const OutputPaths paths = output_paths(arguments.value("output"), request.client_id);
    const auto zip = arguments.value("zip");

    const auto store = record_store(invocation);
    if (auto s = store->check_writable(request.rotate_grace ? "rotate clients in"
                                                            : "register clients in");
        !s)
        return change.fail(s.error());
    if (auto s = require_registry(invocation.registry); !s)
        return change.fail(s.error());
    auto authority = keyauth::load_authority(invocation.registry);
    if (!authority)
        return change.fail(authority.error());
    keyauth::StagedFiles files;
    keyauth::ClientRecord registered;
    bool delivering = false;
    auto deliver = [&](const keyauth::IssuedClient& issued) -> keyauth::Status {
        delivering = true;
        if (auto s = stage_outputs(files, issued, paths, zip, overwrite); !s)
            return s;
        registered = issued.record;
        return files.publish();
    };
    const auto undeliver = [&] { files.rollback(); };
    auto s = store->issue(*authority, request, keyauth::unix_now(), deliver, undeliver);
    if (store->revision() != 0)
        change.event().revision = store->revision();
    // The core says the client exists; the flag that replaces it is keytool's.
    if (!s && s.code() == keyauth::Errc::already_exists && !delivering && !request.rotate_grace)
        return change.fail("client " + request.client_id +
                           " already exists (use --force to replace)");
    if (!s && s.code() == keyauth::Errc::unknown_client)
        return change.fail("no client " + request.client_id);
    if (!s && s.code() != keyauth::Errc::not_published)
        return change.fail(s.error());
    // Registered even when not yet published: the saved files are its keys.
    change.event().add("serial", registered.credentials.serial.hex());
    if (arguments.flag("json")) {
        print_json(registered, paths, zip);
    } else {
        std::printf("Save certificate %s\n", paths.certificate.c_str());
        std::printf("Save private key %s\n", paths.private_key.c_str());
        std::printf("Save token %s\n", paths.token.c_str());
        if (zip)
            std::printf("Save bundle %s\n", zip->c_str());
        if (registered.credentials.previous.present()) {
            std::printf("The replaced token and certificate stay valid until %s\n",
                        format_time(registered.credentials.previous.valid_until).c_str());
        }
    }
    return s ? change.succeed() : change.fail(s.error());
}

}  // namespace

int run_gen(const Invocation& invocation, const Arguments& arguments) {
    if (arguments.operands.size() != 1)
        return report_failure("gen takes exactly one client id");
    keyauth::IssueRequest request;
    request.client_id = arguments.operands.front();
    request.replace = arguments.flag("force");
    AuditedChange change(keyauth::AuditAction::gen, request.client_id, invocation);
    return issue_and_save(invocation, arguments, request, change);
}

int run_rotate(const Invocation& invocation, const Arguments& arguments) {
    if (arguments.operands.size() != 1)
        return report_failure("rotate takes exactly one client id");
    keyauth::IssueRequest request;
    request.client_id = arguments.operands.front();
    AuditedChange change(keyauth::AuditAction::rotate, request.client_id, invocation);
    request.rotate_grace = 0;
    if (const auto grace = arguments.value("grace")) {
        auto seconds = keyauth::parse_duration(*grace);
        if (!seconds)
            return change.fail("--grace: " + seconds.error().message);
        request.rotate_grace = *seconds;
    }
    return issue_and_save(invocation, arguments, request, change);
}

}  // namespace keytool
