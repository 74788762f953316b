// mail/address.cpp — see address.h. RFC 5321 §4.1.2, §4.1.3, §4.5.3.1; RFC 6531 §3.3.
#include "mail/address.h"

#include "mail/domain.h"
#include "mail/utf8.h"

namespace petrel::mail {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 5322 §3.2.3 atext as used by RFC 5321 §4.1.2 Atom; UTF8-non-ascii under RFC 6531 §3.3.
bool is_atext(unsigned char c, bool utf8) {
    if (c >= 0x80) return utf8;
    if (is_alpha(static_cast<char>(c)) || is_digit(static_cast<char>(c))) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
        case '|': case '}': case '~':
            return true;
        default:
            return false;
    }
}

// RFC 5321 §4.1.2 qtextSMTP = %d32-33 / %d35-91 / %d93-126 (+ UTF8-non-ascii, RFC 6531).
bool is_qtext(unsigned char c, bool utf8) {
    if (c >= 0x80) return utf8;
    return c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}


AddressError from_domain_error(DomainError e) {
    switch (e) {
        case DomainError::None: return AddressError::None;
        case DomainError::TooLong: return AddressError::DomainTooLong;
        case DomainError::Utf8NotAllowed: return AddressError::Utf8NotAllowed;
        case DomainError::Syntax:
        case DomainError::Idna: return AddressError::BadDomain;
    }
    return AddressError::BadDomain;
}

// Length of the local part at the start of `s` (Dot-string or Quoted-string), 0 on error.
size_t scan_local_part(std::string_view s, bool utf8, AddressError* err) {
    if (s.empty()) return 0;
    if (s[0] == '"') {
        size_t i = 1;
        while (i < s.size()) {
            const auto c = static_cast<unsigned char>(s[i]);
            if (c == '"') return i + 1;
            if (c == '\\') {
                // quoted-pairSMTP = %d92 %d32-126
                if (i + 1 >= s.size()) return 0;
                const auto q = static_cast<unsigned char>(s[i + 1]);
                if (q < 32 || q > 126) return 0;
                i += 2;
                continue;
            }
            if (!is_qtext(c, utf8)) {
                if (c >= 0x80) *err = AddressError::Utf8NotAllowed;
                return 0;
            }
            ++i;
        }
        return 0;  // unterminated
    }
    // Dot-string = Atom *("." Atom)
    size_t i = 0;
    bool atom_empty = true;
    while (i < s.size() && s[i] != '@') {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '.') {
            if (atom_empty) return 0;
            atom_empty = true;
        } else if (is_atext(c, utf8)) {
            atom_empty = false;
        } else {
            if (c >= 0x80) *err = AddressError::Utf8NotAllowed;
            return 0;
        }
        ++i;
    }
    if (atom_empty) return 0;
    return i;
}

// Parses Mailbox = Local-part "@" ( Domain / address-literal ).
AddressError parse_mailbox_into(std::string_view s, bool utf8, Mailbox* out) {
    AddressError err = AddressError::Syntax;
    const size_t local_len = scan_local_part(s, utf8, &err);
    if (local_len == 0) return err;
    std::string_view local = s.substr(0, local_len);
    if (local.size() > kMaxLocalPartLength) return AddressError::LocalTooLong;
    if (utf8 && !is_ascii(local) && !is_valid_utf8(local)) return AddressError::Syntax;
    if (local_len >= s.size() || s[local_len] != '@') return AddressError::Syntax;
    std::string_view domain = s.substr(local_len + 1);
    if (domain.empty()) return AddressError::Syntax;
    if (domain.front() == '[') {
        auto lit = normalize_address_literal(domain);
        if (!lit) return AddressError::BadLiteral;
        out->domain = std::move(*lit);
    } else {
        auto d = normalize_domain(domain, utf8);
        if (!d.ok()) return from_domain_error(d.error);
        out->domain = std::move(d.domain);
    }
    out->local = std::string(local);
    return AddressError::None;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

}  // namespace

const char* to_string(AddressError e) {
    switch (e) {
        case AddressError::None: return "ok";
        case AddressError::Syntax: return "syntax error";
        case AddressError::NullNotAllowed: return "null path not allowed";
        case AddressError::LocalTooLong: return "local part too long";
        case AddressError::DomainTooLong: return "domain too long";
        case AddressError::PathTooLong: return "path too long";
        case AddressError::BadDomain: return "bad domain";
        case AddressError::BadLiteral: return "bad address literal";
        case AddressError::Utf8NotAllowed: return "non-ASCII address without SMTPUTF8";
    }
    return "?";
}

PathResult parse_path(std::string_view in, const PathOptions& options) {
    PathResult r;
    r.error = AddressError::Syntax;
    if (in.empty() || in[0] != '<') return r;
    // Find the closing '>' outside any quoted string.
    size_t close = std::string_view::npos;
    bool quoted = false;
    for (size_t i = 1; i < in.size(); ++i) {
        const char c = in[i];
        if (quoted) {
            if (c == '\\') ++i;
            else if (c == '"') quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '>') {
            close = i;
            break;
        }
        if (i + 1 > kMaxPathLength + 1) break;  // cannot end within the limit
    }
    if (close == std::string_view::npos) {
        r.error = in.size() > kMaxPathLength ? AddressError::PathTooLong : AddressError::Syntax;
        return r;
    }
    r.consumed = close + 1;
    if (r.consumed > kMaxPathLength) {
        r.error = AddressError::PathTooLong;
        return r;
    }
    std::string_view inner = in.substr(1, close - 1);
    if (inner.empty()) {
        r.error = options.allow_null ? AddressError::None : AddressError::NullNotAllowed;
        return r;
    }
    if (options.allow_postmaster && iequals(inner, "postmaster")) {
        r.path.mailbox = Mailbox{std::string(inner), std::string()};
        r.path.bare_postmaster = true;
        r.error = AddressError::None;
        return r;
    }
    // A-d-l = At-domain *( "," At-domain ) ":"   (RFC 5321 §4.1.2; ignored, §3.6.1 / App. C)
    if (inner.front() == '@') {
        const size_t colon = inner.find(':');
        if (colon == std::string_view::npos) return r;
        std::string_view adl = inner.substr(0, colon);
        size_t pos = 0;
        while (pos <= adl.size()) {
            size_t comma = adl.find(',', pos);
            std::string_view at_domain = adl.substr(pos, comma == std::string_view::npos ? adl.npos : comma - pos);
            if (at_domain.size() < 2 || at_domain[0] != '@') return r;
            auto d = normalize_domain(at_domain.substr(1), options.allow_utf8);
            if (!d.ok()) {
                r.error = from_domain_error(d.error);
                return r;
            }
            if (comma == std::string_view::npos) break;
            pos = comma + 1;
        }
        r.path.had_source_route = true;
        inner = inner.substr(colon + 1);
    }
    Mailbox mb;
    r.error = parse_mailbox_into(inner, options.allow_utf8, &mb);
    if (r.ok()) r.path.mailbox = std::move(mb);
    return r;
}

std::optional<Mailbox> parse_mailbox(std::string_view in, bool allow_utf8) {
    Mailbox mb;
    if (in.size() + 2 > kMaxPathLength) return std::nullopt;
    if (parse_mailbox_into(in, allow_utf8, &mb) != AddressError::None) return std::nullopt;
    return mb;
}

}  // namespace petrel::mail
