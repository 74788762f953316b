// smtp/sasl.cpp — see sasl.h (RFC 4648 §4, RFC 4616 §2).
#include "smtp/sasl.h"

namespace petrel::smtp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = in[i + k];
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad > 0) return std::nullopt;  // data after padding
            v[k] = value_of(c);
            if (v[k] < 0) return std::nullopt;
        }
        const unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
        // Non-canonical encodings (bits set in the padding) are refused (RFC 4648 §3.5).
        if (pad == 1 && (n & 0xff) != 0) return std::nullopt;
        if (pad == 2 && (n & 0xffff) != 0) return std::nullopt;
        out += static_cast<char>((n >> 16) & 0xff);
        if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
        if (pad < 1) out += static_cast<char>(n & 0xff);
    }
    return out;
}

std::string base64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned n = (unsigned(static_cast<unsigned char>(in[i])) << 16) |
                           (unsigned(static_cast<unsigned char>(in[i + 1])) << 8) |
                           unsigned(static_cast<unsigned char>(in[i + 2]));
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (i < in.size()) {
        unsigned n = unsigned(static_cast<unsigned char>(in[i])) << 16;
        if (i + 1 < in.size()) n |= unsigned(static_cast<unsigned char>(in[i + 1])) << 8;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += (i + 1 < in.size()) ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<PlainMessage> parse_plain(std::string_view decoded) {
    const size_t a = decoded.find('\0');
    if (a == std::string_view::npos) return std::nullopt;
    const size_t b = decoded.find('\0', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    if (decoded.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
    PlainMessage m;
    m.authzid = std::string(decoded.substr(0, a));
    m.authcid = std::string(decoded.substr(a + 1, b - a - 1));
    m.password = std::string(decoded.substr(b + 1));
    if (m.authcid.empty() || m.password.empty()) return std::nullopt;
    return m;
}

}  // namespace petrel::smtp
