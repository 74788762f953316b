// mail/domain.h — domain names and address literals as they appear in SMTP paths and EHLO.
//
// Trust: input is peer bytes. A domain is accepted only in the syntax of RFC 5321 §4.1.2
// (sub-domains of letters, digits and inner hyphens, at most 63 octets each, RFC 1035 §2.3.4)
// and at most 255 octets (RFC 5321 §4.5.3.1.2). Under SMTPUTF8 (RFC 6531 §3.3) U-labels are
// allowed and converted with libidn2 (IDNA2008 + UTS #46 non-transitional, falling back to
// transitional) to lower-case A-labels; A-labels given as such are checked the same way.
// Address literals (RFC 5321 §4.1.3): IPv4 and "IPv6:" forms are validated; the
// General-address-literal form is refused (no standardized tag other than IPv6 exists).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace petrel::mail {

enum class DomainError {
    None,
    Syntax,          // not an RFC 5321 Domain
    TooLong,         // over 255 octets (before or after IDNA conversion)
    Utf8NotAllowed,  // non-ASCII without SMTPUTF8
    Idna,            // libidn2 refused it (bad U-label or A-label)
};

struct DomainResult {
    std::string domain;  // normalized: lower-case, A-labels
    DomainError error = DomainError::None;
    bool ok() const { return error == DomainError::None; }
};

constexpr size_t kMaxDomainLength = 255;  // RFC 5321 §4.5.3.1.2

// A Domain (not an address literal), normalized.
DomainResult normalize_domain(std::string_view in, bool allow_utf8);

// "[192.0.2.1]" or "[IPv6:2001:db8::1]" (case of the tag and hex digits normalized: "IPv6:"
// and lower-case). nullopt when malformed or not one of these two forms.
std::optional<std::string> normalize_address_literal(std::string_view in);

// The four dotted decimal octets of RFC 5321 §4.1.3 IPv4-address-literal (no leading zeros
// beyond a single "0", each at most 255).
bool is_ipv4_address(std::string_view s);
// The IPv6 forms of RFC 5321 §4.1.3 (full, compressed, with an IPv4 tail).
bool is_ipv6_address(std::string_view s);

}  // namespace petrel::mail
