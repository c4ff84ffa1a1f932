// The servers' view of lookup.idx: lookups in one of its two copies, read
// without any write access, lock or wait. Which copy, and whether what was
// read may be trusted, is the commit sequence's to say (registry reader).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "index_file.hpp"
#include "keyauth/client_record.hpp"
#include "keyauth/result.hpp"

namespace keyauth {

class LookupIndex {
  public:
    // garbage: what was read cannot be a record (the writer was changing
    // the copy); the caller's counter check decides.
    enum class Found { yes, no, garbage };

    static Result<LookupIndex> open(const std::string& path);

    bool mapped() const { return file_.mapped(); }
    // The counter value that publishes this copy (0: none).
    std::uint64_t version(unsigned copy) const {
        return file_.copy_header(copy)->version.load(std::memory_order_relaxed);
    }
    // The clients the copy holds (garbage while the writer changes it: the
    // caller's counter check decides).
    std::uint64_t entries(unsigned copy) const {
        return file_.copy_header(copy)->entries.load(std::memory_order_relaxed);
    }
    // id: a valid client id (is_valid_client_id), as the reader's callers
    // check it once at the core's entry; a record holding that same id
    // needs no check of its characters again.
    Found find(unsigned copy, std::string_view id, ClientCredentials& out) const;
    // find() from a probe id_probe(id) gave for this file.
    Found find(unsigned copy, std::string_view id, index_file::Probe probe,
               ClientCredentials& out) const;
    index_file::Probe id_probe(std::string_view id) const { return file_.id_probe(id); }
    // A hint, nothing trusted: starts loading the probe's home slot and the
    // record of the first slot in its line whose tag matches, the record's
    // bytes taken as id_length's without a grace. A copy being changed
    // costs at worst a useless load; find() reads and checks it all again.
    void prefetch(unsigned copy, index_file::Probe from, std::size_t id_length) const;
    Found find_by_fingerprint(unsigned copy, const Fingerprint& fingerprint, std::string& id,
                              ClientCredentials& out) const;
    // Slots per table: what a walk numbers its slots up to.
    std::uint64_t slots() const { return file_.slots(); }
    // The heap's size: what a walk's reads (index_walk.hpp) are bounded by.
    std::uint64_t heap_bytes() const { return file_.heap_bytes(); }
    // A newer file has replaced this one: reopen.
    bool retired() const {
        return file_.header()->retired.load(std::memory_order_relaxed) != 0;
    }

    dev_t device() const { return file_.file().device(); }
    void hand_back_pages() const { file_.file().hand_back(); }
    ino_t inode() const { return file_.file().inode(); }

  private:
    // checked_id: as read_record's; found_word, if given: the slot word that
    // named the record found.
    template <class Matches>
    Found probe(const std::uint64_t* table, index_file::Probe probe, ClientCredentials& out,
                Matches&& matches, std::string_view checked_id,
                std::uint64_t* found_word = nullptr) const;

    index_file::IndexFile file_;
};

}  // namespace keyauth
