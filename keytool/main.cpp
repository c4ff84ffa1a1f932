// keytool: registers API clients and hands out their certificate, key and
// token, once.
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "keyauth/commit_signals.hpp"
#include "keyauth/provisioning.hpp"
#include "output.hpp"

namespace keytool {
namespace {

constexpr std::string_view kOverview =
    "usage: keytool [--registry DIR] <command> [options]\n"
    "       keytool --version\n"
    "\n"
    "Registers API clients of Mosquitto and NGINX and hands out, once, their\n"
    "X.509 certificate, private key and token.\n"
    "\n"
    "commands:\n";

constexpr std::string_view kOverviewTail =
    "\n"
    "The registry is --registry DIR, else $KEYAUTH_REGISTRY, else /var/lib/keyauth.\n"
    "With --etcd URL[,URL...] (or $KEYAUTH_ETCD), init, gen, rotate, del, suspend,\n"
    "resume, list and serve act on the fleet's registry in etcd; the CA key stays\n"
    "in the registry (docs/FLEET.md).\n"
    "Run 'keytool <command> --help' for a command's options.\n";

void print_overview(std::FILE* to) {
    std::fputs(std::string(kOverview).c_str(), to);
    for (const Command& command : commands()) {
        std::fprintf(to, "  %-12s %s\n", std::string(command.name).c_str(),
                     std::string(command.summary).c_str());
    }
    std::fputs(std::string(kOverviewTail).c_str(), to);
}

const Command* find_command(std::string_view name) {
    for (const Command& command : commands()) {
        if (command.name == name)
            return &command;
    }
    return nullptr;
}

bool is_help(std::string_view word) {
    return word == "--help" || word == "-h";
}

int run(int argc, char** argv) {
    std::optional<std::string> registry_flag;
    std::optional<std::string> command_name;
    std::vector<std::string> rest;
    EtcdTarget etcd;
    bool wants_help = false;
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word == "--registry" || word.rfind("--registry=", 0) == 0) {
            std::string value;
            if (word == "--registry") {
                if (i + 1 >= argc)
                    return report_failure("--registry needs a directory");
                value = argv[++i];
            } else {
                value = word.substr(std::string_view("--registry=").size());
            }
            if (value.empty())
                return report_failure("--registry needs a directory");
            registry_flag = value;
        } else if (is_etcd_flag(word)) {
            if (auto s = take_etcd_flag(argc, argv, i, etcd); !s)
                return report_failure(s.error());
        } else if (!command_name && is_help(word)) {
            wants_help = true;
        } else if (!command_name && word == "--version") {
            std::printf("keytool (keyauth) %s\n", KEYAUTH_VERSION);
            return kExitOk;
        } else if (!command_name && word.rfind("-", 0) != 0) {
            command_name = word;
        } else {
            rest.push_back(word);
        }
    }
    if (!command_name) {
        print_overview(wants_help ? stdout : stderr);
        return wants_help ? kExitOk : kExitUsage;
    }
    const Command* command = find_command(*command_name);
    if (command == nullptr) {
        std::fprintf(stderr, "keytool: unknown command %s\n", command_name->c_str());
        print_overview(stderr);
        return kExitUsage;
    }
    for (const std::string& word : rest) {
        if (word == "--")
            break;
        if (is_help(word)) {
            std::fputs(std::string(command->usage).c_str(), stdout);
            return kExitOk;
        }
    }
    auto arguments = parse_arguments(rest, command->options);
    if (!arguments)
        return report_usage(*command, arguments.error().message);
    Invocation invocation{keyauth::resolve_registry(registry_flag), resolve_etcd(std::move(etcd))};
    return command->run(invocation, *arguments);
}

}  // namespace

}  // namespace keytool

namespace {

// Ctrl-C, a closed terminal or a kill says what it left behind: a change is
// either committed and published whole (the core holds these signals across
// that) or not at all. Async-signal-safe: write(2), then the default action.
void on_interrupt(int signal_number) {
    static const char nothing[] = "keytool: interrupted; the registry was not changed\n";
    static const char done[] =
        "keytool: interrupted after the change was committed and published\n";
    const bool committed = keyauth::committed_a_change();
    const ssize_t ignored = committed ? write(STDERR_FILENO, done, sizeof done - 1)
                                      : write(STDERR_FILENO, nothing, sizeof nothing - 1);
    (void)ignored;
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

void report_interruptions() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP})
        sigaction(signal_number, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    if (sodium_init() < 0) {
        std::fputs("keytool: libsodium failed to initialize\n", stderr);
        return keytool::kExitFailure;
    }
    report_interruptions();
    try {
        return keytool::run(argc, argv);
    } catch (const std::exception& e) {
        return keytool::report_failure(std::string("internal error: ") + e.what());
    }
}
