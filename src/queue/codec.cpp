// queue/codec.cpp — see codec.h and docs/queue-format.md.
#include "queue/codec.h"

#include <dirent.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

namespace petrel::queue {

uint32_t crc32(std::string_view data) {
    // zlib's CRC-32 (the same polynomial and conditioning), several times faster than a
    // byte-at-a-time table: the spool checksums every message it stores (version 3 records).
    uLong c = ::crc32(0L, Z_NULL, 0);
    const auto* p = reinterpret_cast<const Bytef*>(data.data());
    size_t left = data.size();
    while (left > 0) {
        const uInt n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
        c = ::crc32(c, p, n);
        p += n;
        left -= n;
    }
    return static_cast<uint32_t>(c);
}

size_t pread_full(int fd, char* buf, size_t len, uint64_t offset) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    return got;
}

std::string crc32_hex(std::string_view data) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", crc32(data));
    return buf;
}

std::string encode_field(std::string_view s) {
    if (s.empty()) return "-";
    if (s == "-") return "%2D";
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c <= 0x20 || c >= 0x7F || c == '%') {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

namespace {
int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}
}  // namespace

bool decode_field(std::string_view s, std::string& out) {
    out.clear();
    if (s == "-") return true;
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c <= 0x20 || c >= 0x7F) return false;
        if (c != '%') {
            out += static_cast<char>(c);
            continue;
        }
        if (i + 2 >= s.size()) return false;
        int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
        if (h < 0 || l < 0) return false;
        out += static_cast<char>(h * 16 + l);
        i += 2;
    }
    return true;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        size_t sp = line.find(' ', start);
        if (sp == std::string_view::npos) {
            out.push_back(line.substr(start));
            return out;
        }
        out.push_back(line.substr(start, sp - start));
        start = sp + 1;
    }
}

std::vector<std::string> list_directory(const std::string& path) {
    std::vector<std::string> names;
    DIR* d = ::opendir(path.c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    return names;
}

char state_letter(RecipientState s) {
    switch (s) {
        case RecipientState::Pending: return 'P';
        case RecipientState::Delivered: return 'D';
        case RecipientState::Bounced: return 'B';
        case RecipientState::Captured: return 'C';
    }
    return 'P';
}

bool parse_state_letter(std::string_view s, RecipientState& out) {
    if (s == "P") out = RecipientState::Pending;
    else if (s == "D") out = RecipientState::Delivered;
    else if (s == "B") out = RecipientState::Bounced;
    else if (s == "C") out = RecipientState::Captured;
    else return false;
    return true;
}

}  // namespace petrel::queue
