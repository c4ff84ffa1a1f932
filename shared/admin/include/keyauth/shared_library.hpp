// A shared library loaded when a command first needs it, not at start:
// keytool needs libcurl (thirty libraries) for --etcd and libmicrohttpd
// (GnuTLS's) for serve alone; linked, every other command would pay for
// loading and relocating them (docs/BENCHMARKS.md, "A gen's process start
// and page-ins at 10^7").
#pragma once

#include <string>

#include "keyauth/result.hpp"

namespace keyauth {

class SharedLibrary {
  public:
    // soname: the exact name the build linked against (libcurl.so.4), so the
    // ABI is the one the headers describe. Kept loaded until the process ends.
    static Result<SharedLibrary> open(const char* soname);

    // The function `name`, as the type the library's header declares; an
    // error names the library and the symbol.
    template <class Function>
    Status bind(const char* name, Function& into) const {
        void* found = symbol(name);
        if (found == nullptr)
            return missing(name);
        into = reinterpret_cast<Function>(found);
        return {};
    }

  private:
    void* symbol(const char* name) const;
    Error missing(const char* name) const;

    void* handle_ = nullptr;
    std::string soname_;
};

}  // namespace keyauth
