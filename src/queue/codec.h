// queue/codec.h — the small text codecs shared by the spool header and the state journal
// (docs/queue-format.md): CRC-32, field escaping and splitting, numbers, recipient state
// letters; and a directory listing helper for the spool's directories.
//
// Trust: the decoders take bytes read back from disk, which may be torn or corrupt: they
// return false on anything malformed and never throw.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/spool_entry.h"

namespace petrel::queue {

// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
uint32_t crc32(std::string_view data);
std::string crc32_hex(std::string_view data);  // 8 lower-case hex digits

// A field: "-" is the empty string; otherwise bytes outside 0x21..0x7E and '%' are %XX, and a
// lone "-" is written "%2D". Fields are separated by single spaces.
std::string encode_field(std::string_view s);
bool decode_field(std::string_view s, std::string& out);

// Splits a line on single spaces (empty fields are kept, so a double space is detectable).
std::vector<std::string_view> split_fields(std::string_view line);

// A decimal number that is the whole of `s` (no sign, no spaces).
template <typename T>
bool parse_uint(std::string_view s, T& out) {
    if (s.empty() || s.size() > 20) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

// Reads up to `len` bytes at `offset` into `buf` (through short reads and EINTR); returns how
// many it got (fewer at end of file or on an error).
size_t pread_full(int fd, char* buf, size_t len, uint64_t offset);

// Every name in directory `path` but "." and ".." (its own descriptor: safe from any thread).
std::vector<std::string> list_directory(const std::string& path);

// 'P' pending, 'D' delivered, 'B' bounced, 'C' captured.
char state_letter(RecipientState s);
bool parse_state_letter(std::string_view s, RecipientState& out);

}  // namespace petrel::queue
