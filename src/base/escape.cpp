// base/escape.cpp — see escape.h.
#include "base/escape.h"

namespace petrel::base {

std::string escape_for_log(std::string_view bytes, std::size_t max_len) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    const std::size_t n = bytes.size() < max_len ? bytes.size() : max_len;
    out.reserve(n + 8);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\\') {
            out += "\\\\";
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (bytes.size() > max_len) out += "...";
    return out;
}

}  // namespace petrel::base
