// mail/address.h — parser of the Path / Reverse-path of MAIL FROM and RCPT TO.
//
// Trust: input is peer bytes, possibly hostile (open-relay tricks, overlong paths, bad UTF-8).
// Implements RFC 5321 §4.1.2 (Path, Reverse-path, Mailbox, Local-part as Dot-string or
// Quoted-string), §4.1.3 (address literals), §4.1.1.3 ("<Postmaster>" without a domain),
// §4.5.3.1.1-3 (local part 64, domain 255, path 256 octets including the angle brackets),
// RFC 6531 §3.3 (UTF-8 in local parts and domains, only when SMTPUTF8 was given).
// A source route ("<@a,@b:user@dom>", RFC 5321 §4.1.2 A-d-l) is accepted as syntax and then
// ignored, as RFC 5321 §3.6.1 and Appendix C allow; `had_source_route` says it was there.
// '%' and '!' are ordinary atext in a local part: they carry no routing meaning here.
// Errors are values; this never throws on peer input.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "mail/envelope.h"

namespace petrel::mail {

enum class AddressError {
    None,
    Syntax,          // not RFC 5321 syntax
    NullNotAllowed,  // "<>" where a forward-path is required
    LocalTooLong,    // local part over 64 octets
    DomainTooLong,   // domain over 255 octets
    PathTooLong,     // path over 256 octets
    BadDomain,       // domain syntax or IDNA failure
    BadLiteral,      // malformed or unsupported address literal
    Utf8NotAllowed,  // non-ASCII without SMTPUTF8 (RFC 6531 §3.4: 553 5.6.7)
};

const char* to_string(AddressError e);

constexpr size_t kMaxLocalPartLength = 64;  // RFC 5321 §4.5.3.1.1
constexpr size_t kMaxPathLength = 256;      // RFC 5321 §4.5.3.1.3

struct PathOptions {
    bool allow_null = false;        // Reverse-path: "<>" is allowed
    bool allow_utf8 = false;        // SMTPUTF8 was given with MAIL FROM
    bool allow_postmaster = false;  // Forward-path: "<Postmaster>" without a domain
};

struct Path {
    std::optional<Mailbox> mailbox;  // nullopt: the null reverse-path "<>"
    bool had_source_route = false;   // "<@relay:user@dom>": the route was dropped
    bool bare_postmaster = false;    // "<Postmaster>": mailbox has local "Postmaster", empty domain
};

struct PathResult {
    Path path;
    AddressError error = AddressError::None;
    size_t consumed = 0;  // octets of `in` up to and including the closing '>'
    bool ok() const { return error == AddressError::None; }
};

// Parses the path at the start of `in` (which must begin with '<'). What follows the closing
// '>' (ESMTP parameters) is left to the caller, starting at `consumed`.
PathResult parse_path(std::string_view in, const PathOptions& options);

// Parses "local@domain" (no angle brackets) with the same rules; for tests and for tools.
std::optional<Mailbox> parse_mailbox(std::string_view in, bool allow_utf8);

}  // namespace petrel::mail
