// mailauth/spf/macro.h — SPF macro strings: syntax check and expansion (RFC 7208 §7).
//
// Trust: the macro string comes from a DNS record (untrusted); the values come from the SMTP
// session (sender, HELO: peer-controlled) and from DNS (the validated name of %{p}). Expansion
// is bounded: each macro's output is at most the length of its value plus the joiners, and
// the number of macros is at most the length of the string, so the work is O(n · value); the
// output kept is capped at kMaxExpansion characters (a record of thousands of %{S} macros
// would otherwise build megabytes before the 253-character cut of §7.3).
// Nothing here does I/O: the caller looks up %{p} first when `uses_p_macro` says so.
// RFCs: 7208 §7.1 (syntax), §7.2 (letters), §7.3 (transformers, URL escaping of upper-case
// letters, RFC 3986 §2.3 unreserved set), §7.4 (IPv6 "i" in dot format), §4.8 (domain-spec).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dns/records.h"

namespace petrel::mailauth::spf {

// Domain: a domain-spec or an unknown modifier's value (letters s l o d i p h v; no spaces).
// Explanation: the text of an exp= TXT record (adds c r t and literal spaces: §6.2, §7.1).
enum class MacroMode : uint8_t { Domain, Explanation };

// What the letters expand to (§7.2).
struct MacroValues {
    std::string_view sender;          // s: <sender>, "postmaster@..." when it had no local part
    std::string_view local_part;      // l
    std::string_view sender_domain;   // o
    std::string_view domain;          // d: the current <domain>
    dns::IpAddress ip;                // i, c, v
    std::string_view validated_name;  // p: "unknown" when there is none (§7.3)
    std::string_view helo;            // h
    std::string_view receiver;        // r: the checking host's domain, "unknown" if not known
    int64_t timestamp = 0;            // t: seconds since the epoch
};

// The most characters an expansion keeps (see expand_macros / expand_domain_spec).
inline constexpr size_t kMaxExpansion = 8 * 1024;

// True when `s` is a well-formed macro-string in `mode` (§7.1 ABNF; letters in any case).
bool valid_macro_string(std::string_view s, MacroMode mode);

// True when `s` is a well-formed domain-spec: a macro-string that ends in "." toplabel
// (optionally followed by ".") or in a macro-expand (§4.8, §7.1 domain-end).
bool valid_domain_spec(std::string_view s);

// True when `s` contains %{p} (either case), whose value needs DNS lookups first.
bool uses_p_macro(std::string_view s);

// Expands a macro string that passed `valid_macro_string`; nullopt when it is not well-formed.
// Output past kMaxExpansion characters is cut (an exp= explanation longer than that is cut).
std::optional<std::string> expand_macros(std::string_view s, const MacroValues& values,
                                         MacroMode mode);

// Expands a domain-spec into the name to query: macros expanded, one trailing dot removed,
// and labels dropped from the left until it is at most 253 characters long (§7.3). Only the
// last kMaxExpansion or more characters of the expansion are kept while it runs, which gives
// the same name: the cut is from the left.
std::optional<std::string> expand_domain_spec(std::string_view spec, const MacroValues& values);

}  // namespace petrel::mailauth::spf
