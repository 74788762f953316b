// mail/domain.cpp — see domain.h. RFC 5321 §4.1.2, §4.1.3, §4.5.3.1.2; RFC 6531 §3.3; IDNA via
// libidn2 (RFC 5890/5891, UTS #46).
#include "mail/domain.h"

#include <idn2.h>

#include <cstdlib>

#include "mail/utf8.h"

namespace petrel::mail {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_let_dig(char c) { return is_alpha(c) || is_digit(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str]; at most 63 octets (RFC 1035 §2.3.4).
bool is_ldh_domain(std::string_view s, bool* has_alabel) {
    if (s.empty()) return false;
    size_t start = 0;
    while (true) {
        size_t dot = s.find('.', start);
        std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (!is_let_dig(label.front()) || !is_let_dig(label.back())) return false;
        for (char c : label)
            if (!is_let_dig(c) && c != '-') return false;
        if (label.size() >= 4 && lower(label[0]) == 'x' && lower(label[1]) == 'n' && label[2] == '-' &&
            label[3] == '-')
            *has_alabel = true;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// Runs libidn2; the output is lower-case A-labels. Non-transitional first (IDNA2008 + UTS #46),
// transitional as the fallback for names only the older mapping accepts.
std::optional<std::string> idna_lookup(const std::string& in) {
    for (int flags : {IDN2_NONTRANSITIONAL, IDN2_TRANSITIONAL}) {
        uint8_t* out = nullptr;
        const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(in.c_str()), &out, flags);
        if (rc == IDN2_OK && out != nullptr) {
            std::string result(reinterpret_cast<char*>(out));
            idn2_free(out);
            return result;
        }
        if (out != nullptr) idn2_free(out);
    }
    return std::nullopt;
}

}  // namespace

DomainResult normalize_domain(std::string_view in, bool allow_utf8) {
    DomainResult r;
    if (in.empty()) {
        r.error = DomainError::Syntax;
        return r;
    }
    if (in.size() > kMaxDomainLength) {
        r.error = DomainError::TooLong;
        return r;
    }
    if (in.find('\0') != std::string_view::npos) {
        r.error = DomainError::Syntax;
        return r;
    }
    bool has_alabel = false;
    if (is_ascii(in)) {
        if (!is_ldh_domain(in, &has_alabel)) {
            r.error = DomainError::Syntax;
            return r;
        }
        r.domain.reserve(in.size());
        for (char c : in) r.domain += lower(c);
        if (!has_alabel) return r;
        // A-labels must be valid punycode of valid U-labels (RFC 5891 §5.4).
        auto checked = idna_lookup(r.domain);
        if (!checked) r.error = DomainError::Idna;
        else r.domain = *checked;
        return r;
    }
    if (!allow_utf8) {
        r.error = DomainError::Utf8NotAllowed;
        return r;
    }
    if (!is_valid_utf8(in)) {
        r.error = DomainError::Syntax;
        return r;
    }
    auto converted = idna_lookup(std::string(in));
    if (!converted) {
        r.error = DomainError::Idna;
        return r;
    }
    if (converted->size() > kMaxDomainLength) {
        r.error = DomainError::TooLong;
        return r;
    }
    bool dummy = false;
    if (!is_ldh_domain(*converted, &dummy)) {
        r.error = DomainError::Idna;  // mapped to something that is not a host name
        return r;
    }
    r.domain = std::move(*converted);
    for (char& c : r.domain) c = lower(c);
    return r;
}

bool is_ipv4_address(std::string_view s) {
    int parts = 0;
    size_t i = 0;
    while (true) {
        size_t start = i;
        unsigned value = 0;
        while (i < s.size() && is_digit(s[i]) && i - start < 3) value = value * 10 + (s[i++] - '0');
        const size_t len = i - start;
        if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
        ++parts;
        if (i == s.size()) return parts == 4;
        if (s[i] != '.' || parts == 4) return false;
        ++i;
    }
}

bool is_ipv6_address(std::string_view s) {
    // RFC 5321 §4.1.3: IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp; at most one "::".
    if (s.size() < 2) return false;
    int groups = 0;
    bool compressed = false;
    size_t i = 0;
    if (s.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
        if (i == s.size()) return true;
    } else if (s[0] == ':') {
        return false;
    }
    while (i < s.size()) {
        // Either an IPv4 tail (the rest contains a '.') or a hex group.
        size_t j = i;
        while (j < s.size() && is_hex(s[j])) ++j;
        if (j < s.size() && s[j] == '.') {
            if (!is_ipv4_address(s.substr(i))) return false;
            groups += 2;
            i = s.size();
            break;
        }
        const size_t len = j - i;
        if (len == 0 || len > 4) return false;
        ++groups;
        i = j;
        if (i == s.size()) break;
        if (s[i] != ':') return false;
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (compressed) return false;
            compressed = true;
            ++i;
            if (i == s.size()) break;
        } else if (i == s.size()) {
            return false;  // trailing single ':'
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

std::optional<std::string> normalize_address_literal(std::string_view in) {
    if (in.size() < 3 || in.front() != '[' || in.back() != ']') return std::nullopt;
    std::string_view body = in.substr(1, in.size() - 2);
    if (is_ipv4_address(body)) return std::string(in);
    if (body.size() > 5 && lower(body[0]) == 'i' && lower(body[1]) == 'p' && lower(body[2]) == 'v' &&
        body[3] == '6' && body[4] == ':') {
        std::string_view addr = body.substr(5);
        if (!is_ipv6_address(addr)) return std::nullopt;
        std::string out = "[IPv6:";
        for (char c : addr) out += lower(c);
        out += ']';
        return out;
    }
    return std::nullopt;
}

}  // namespace petrel::mail
