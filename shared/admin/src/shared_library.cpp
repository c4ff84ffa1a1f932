#include "keyauth/shared_library.hpp"

#include <dlfcn.h>

namespace keyauth {

Result<SharedLibrary> SharedLibrary::open(const char* soname) {
    // RTLD_NOW: a missing symbol fails here, once, not in the middle of a change.
    void* handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        return make_error(Errc::not_found, std::string("cannot load ") + soname + ": " +
                                               (why != nullptr ? why : "not found"));
    }
    SharedLibrary library;
    library.handle_ = handle;
    library.soname_ = soname;
    return library;
}

void* SharedLibrary::symbol(const char* name) const {
    return handle_ == nullptr ? nullptr : dlsym(handle_, name);
}

Error SharedLibrary::missing(const char* name) const {
    return make_error(Errc::not_found, soname_ + " has no " + name);
}

}  // namespace keyauth
