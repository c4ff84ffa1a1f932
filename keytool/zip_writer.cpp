#include "zip_writer.hpp"

#include <array>
#include <ctime>

namespace keytool {
namespace {

std::uint32_t crc32(std::string_view data) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t crc = 0xffffffffu;
    for (unsigned char byte : data)
        crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

void put16(std::string& out, std::uint32_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>((v >> 8) & 0xff);
}

void put32(std::string& out, std::uint32_t v) {
    put16(out, v & 0xffff);
    put16(out, v >> 16);
}

struct DosTime {
    std::uint16_t time;
    std::uint16_t date;
};

DosTime dos_time(std::int64_t unix_time) {
    const auto seconds = static_cast<std::time_t>(unix_time);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    const int year = tm.tm_year + 1900 < 1980 ? 0 : tm.tm_year + 1900 - 1980;
    return DosTime{
        static_cast<std::uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2)),
        static_cast<std::uint16_t>((year << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday)};
}

constexpr std::uint32_t kVersionNeeded = 20;
constexpr std::uint32_t kMadeByUnix = (3 << 8) | 20;

}  // namespace

std::string make_zip(const std::vector<ZipEntry>& entries, std::int64_t unix_time) {
    const DosTime when = dos_time(unix_time);
    std::string archive;
    std::string directory;
    for (const ZipEntry& entry : entries) {
        const std::uint32_t offset = static_cast<std::uint32_t>(archive.size());
        const std::uint32_t crc = crc32(entry.contents);
        const auto size = static_cast<std::uint32_t>(entry.contents.size());
        const auto name_length = static_cast<std::uint32_t>(entry.name.size());

        put32(archive, 0x04034b50);
        put16(archive, kVersionNeeded);
        put16(archive, 0);  // flags
        put16(archive, 0);  // stored
        put16(archive, when.time);
        put16(archive, when.date);
        put32(archive, crc);
        put32(archive, size);
        put32(archive, size);
        put16(archive, name_length);
        put16(archive, 0);
        archive += entry.name;
        archive += entry.contents;

        put32(directory, 0x02014b50);
        put16(directory, kMadeByUnix);
        put16(directory, kVersionNeeded);
        put16(directory, 0);
        put16(directory, 0);
        put16(directory, when.time);
        put16(directory, when.date);
        put32(directory, crc);
        put32(directory, size);
        put32(directory, size);
        put16(directory, name_length);
        put16(directory, 0);                              // extra
        put16(directory, 0);                              // comment
        put16(directory, 0);                              // disk
        put16(directory, 0);                              // internal attributes
        put32(directory, (0100000u | entry.mode) << 16);  // regular file, unix mode
        put32(directory, offset);
        directory += entry.name;
    }
    const auto directory_offset = static_cast<std::uint32_t>(archive.size());
    archive += directory;
    put32(archive, 0x06054b50);
    put16(archive, 0);
    put16(archive, 0);
    put16(archive, static_cast<std::uint32_t>(entries.size()));
    put16(archive, static_cast<std::uint32_t>(entries.size()));
    put32(archive, static_cast<std::uint32_t>(directory.size()));
    put32(archive, directory_offset);
    put16(archive, 0);
    return archive;
}

}  // namespace keytool
