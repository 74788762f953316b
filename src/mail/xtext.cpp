// mail/xtext.cpp — see xtext.h (RFC 3461 §4).
#include "mail/xtext.h"

namespace petrel::mail {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;  // RFC 3461 §4: upper-case only
}

}  // namespace

std::optional<std::string> xtext_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        const auto c = static_cast<unsigned char>(in[i]);
        if (c == '+') {
            if (in.size() - i < 3) return std::nullopt;
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c >= '!' && c <= '~' && c != '=') {
            out += static_cast<char>(c);
        } else {
            return std::nullopt;
        }
    }
    return out;
}

std::string xtext_encode(std::string_view in) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : in) {
        if (c >= '!' && c <= '~' && c != '+' && c != '=') {
            out += static_cast<char>(c);
        } else {
            out += '+';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

}  // namespace petrel::mail
