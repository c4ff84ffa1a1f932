// Command-line parsing for keytool: one command, its operands and options.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyauth/result.hpp"

namespace keytool {

struct OptionSpec {
    std::string_view name;  // without the leading "--"
    bool takes_value = false;
    bool repeatable = false;
};

struct Arguments {
    std::vector<std::string> operands;
    std::map<std::string, std::vector<std::string>, std::less<>> options;

    bool flag(std::string_view name) const { return options.count(name) != 0; }
    std::optional<std::string> value(std::string_view name) const;
    std::vector<std::string> values(std::string_view name) const;
};

// Accepts "--name value", "--name=value" and "--" before operands.
keyauth::Result<Arguments> parse_arguments(const std::vector<std::string>& words,
                                           const std::vector<OptionSpec>& specs);

// --days N: a whole number of days in range.
keyauth::Result<int> parse_days(const Arguments& arguments, int default_days);

}  // namespace keytool
