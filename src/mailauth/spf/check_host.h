// mailauth/spf/check_host.h — the SPF evaluator: check_host() of RFC 7208 §4, and the two
// identities petrel checks with it, MAIL FROM (§2.4) and HELO (§2.3).
//
// Pure: no I/O, no clock (the timestamp of %{t} comes in the Request); DNS answers come from a
// spf::Lookups (lookups.h), which may say "not known yet" (Outcome::pending; see lookups.h
// for how resolver_check.h drives that with the real resolver).
// Trust: the client IP, sender and HELO come from the SMTP peer; records from DNS. Every
// limit of §4.6.4 is enforced (Limits), so a hostile record costs at most ~130 lookups and a
// recursion depth of 10. Errors are results (temperror, permerror), never exceptions.
// RFCs: 7208 §2.3, §2.4 (identities), §4.3 (initial processing), §4.4 (record lookup), §4.5
// (selection), §4.6 (evaluation), §4.6.4 (limits), §4.7 (default result), §4.8 (domain-spec),
// §5 (mechanisms), §6 (redirect, exp), §7 (macros), RFC 4291 §2.5.5.2 (IPv4-mapped clients
// are checked as IPv4, §5 of RFC 7208).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dns/records.h"
#include "mailauth/spf/lookups.h"
#include "mailauth/spf/record.h"

namespace petrel::mailauth::spf {

struct Request {
    dns::IpAddress ip;     // the SMTP client's address
    std::string sender;    // MAIL FROM address without <>; "" for the null reverse-path
    std::string helo;      // the HELO/EHLO argument
    std::string receiver;  // %{r}: petrel's own host name ("" reads as "unknown")
    int64_t now = 0;       // %{t}: seconds since the epoch
};

// RFC 7208 §4.6.4. The defaults are the RFC's; tests lower them.
struct Limits {
    unsigned dns_terms = 10;     // include, a, mx, ptr, exists, redirect
    unsigned void_lookups = 2;   // NXDOMAIN / no-data answers to those terms' queries
    unsigned mx_names = 10;      // more MX records than this: permerror
    unsigned ptr_names = 10;     // PTR names beyond this are ignored
    unsigned max_depth = 20;     // include/redirect nesting (dns_terms already bounds it)
};

struct Outcome {
    Result result = Result::None;
    std::string domain;        // the domain whose policy was checked (§2.3, §2.4)
    std::string explanation;   // fail only: the expanded exp= text (§6.2); "" when none
    std::string reason;        // for logs and Authentication-Results comments
    // Set only when the Lookups lacked an answer: the other fields mean nothing then.
    bool pending = false;
};

// Can `name` be asked of DNS at all (RFC 1035 §2.3.4: labels of 1-63 octets, at most 253 in
// all; one trailing dot allowed)? Names that cannot are treated as non-existent (§4.3, §4.8).
bool askable_name(std::string_view name);

// check_host(<ip>, <domain>, <sender>) of §4. `sender` is the full address whose local part
// and domain feed %{s} %{l} %{o}; a sender without local part reads as postmaster@domain.
Outcome check_host(Lookups& dns, const dns::IpAddress& ip, std::string_view domain,
                   std::string_view sender, const Request& context, const Limits& limits = {});

// §2.4: the MAIL FROM identity; for the null reverse-path, postmaster@<HELO> (§2.4, §4.3).
Outcome check_mail_from(Lookups& dns, const Request& request, const Limits& limits = {});

// §2.3: the HELO identity (domain = HELO argument, sender = postmaster@HELO).
Outcome check_helo(Lookups& dns, const Request& request, const Limits& limits = {});

}  // namespace petrel::mailauth::spf
