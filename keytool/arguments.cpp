#include "arguments.hpp"

#include <charconv>

#include "keyauth/x509_authority.hpp"

namespace keytool {

using keyauth::Errc;
using keyauth::make_error;

std::optional<std::string> Arguments::value(std::string_view name) const {
    const auto found = options.find(name);
    if (found == options.end() || found->second.empty())
        return std::nullopt;
    return found->second.back();
}

std::vector<std::string> Arguments::values(std::string_view name) const {
    const auto found = options.find(name);
    return found == options.end() ? std::vector<std::string>() : found->second;
}

keyauth::Result<Arguments> parse_arguments(const std::vector<std::string>& words,
                                           const std::vector<OptionSpec>& specs) {
    Arguments parsed;
    bool only_operands = false;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        if (only_operands || word.size() < 2 || word.compare(0, 2, "--") != 0) {
            if (!only_operands && word.size() > 1 && word[0] == '-' && word != "-") {
                return make_error(Errc::invalid_argument, "unknown option " + word);
            }
            parsed.operands.push_back(word);
            continue;
        }
        if (word == "--") {
            only_operands = true;
            continue;
        }
        std::string name = word.substr(2);
        std::optional<std::string> inline_value;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name.resize(eq);
        }
        const OptionSpec* spec = nullptr;
        for (const OptionSpec& candidate : specs) {
            if (candidate.name == name)
                spec = &candidate;
        }
        if (spec == nullptr)
            return make_error(Errc::invalid_argument, "unknown option --" + name);
        if (!spec->repeatable && parsed.options.count(name) != 0) {
            return make_error(Errc::invalid_argument, "--" + name + " given twice");
        }
        auto& slot = parsed.options[name];
        if (!spec->takes_value) {
            if (inline_value) {
                return make_error(Errc::invalid_argument, "--" + name + " takes no value");
            }
            slot.emplace_back();
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= words.size()) {
                return make_error(Errc::invalid_argument, "--" + name + " needs a value");
            }
            inline_value = words[++i];
        }
        if (inline_value->empty()) {
            return make_error(Errc::invalid_argument, "--" + name + " needs a value");
        }
        slot.push_back(*inline_value);
    }
    return parsed;
}

keyauth::Result<int> parse_days(const Arguments& arguments, int default_days) {
    const auto text = arguments.value("days");
    if (!text)
        return default_days;
    int days = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, days);
    // The range is the core's rule; the message speaks of the flag.
    if (ec != std::errc() || ptr != end || !keyauth::check_validity_days(days).ok()) {
        return make_error(Errc::invalid_argument, "--days must be a whole number from 1 to " +
                                                      std::to_string(keyauth::kMaxDays));
    }
    return days;
}

}  // namespace keytool
