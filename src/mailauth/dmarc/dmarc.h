// mailauth/dmarc/dmarc.h — DMARC policy evaluation (RFC 7489): the author domain of a message,
// policy discovery through DNS, identifier alignment and the result and disposition that the
// inbound path records (Authentication-Results, RFC 8601 §2.7.1 "dmarc") and acts on.
//
// Trust: the message and every DNS answer are hostile. Records are parsed with bounds
// (record.h); the author domain is parsed from the From field without allocation beyond its
// size. SPF and DKIM results come from petrel's own verifiers and are trusted.
// RFC 7489 §3.1 (alignment), §6.3 (record, via record.h), §6.6.1 (author domain), §6.6.2
// (authenticated identifiers), §6.6.3 (policy discovery), §6.6.4 (pct sampling), §11.2 (result
// words). Reports (rua/ruf) are parsed and kept but never sent (docs/dmarc.md).
// Threads: the pure functions are reentrant; evaluate_with_dns runs on the resolver's io thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "dns/records.h"
#include "dns/resolver.h"
#include "mailauth/dmarc/record.h"

namespace petrel::mailauth::dmarc {

enum class Result { None, Pass, Fail, TempError, PermError };  // RFC 7489 §11.2 / RFC 8601 words
const char* to_string(Result);                                  // "none","pass","fail","temperror","permerror"

// Policy is declared in record.h (the p= and sp= values); to_string(Policy) gives
// "none","quarantine","reject".

// The RFC5322.From domain (RFC 7489 §6.6.1): exactly one From field with exactly one address,
// else an error string (zero or several From fields, several addresses, unparseable).
struct AuthorDomain {
    std::string domain;  // lower-case A-label
    std::string error;
};
AuthorDomain author_domain(std::string_view message);  // whole message or header section

struct DkimPass {
    std::string domain;  // d= of a DKIM signature that verified "pass"
};

struct Inputs {
    std::string from_domain;  // from author_domain()
    bool spf_pass = false;    // SPF result for MAIL FROM was "pass"
    std::string spf_domain;   // MAIL FROM domain (or HELO domain when MAIL FROM is <>)
    std::vector<DkimPass> dkim;
};

struct Evaluation {
    Result result = Result::None;
    Policy policy = Policy::None;       // what the domain asks (p=, or sp= for a subdomain), none if no record
    Policy disposition = Policy::None;  // what applies after pct= sampling (§6.6.4), none on pass
    std::string header_from;            // from_domain
    std::string policy_domain;          // where the record was found (author or organizational domain)
    bool spf_aligned = false, dkim_aligned = false;
    std::string detail;                 // short reason for logs / Authentication-Results comment
};

// The organizational domain of `domain` (RFC 7489 §3.2): its registrable domain under the
// Public Suffix List (libpsl), or `domain` itself when it is a public suffix or unknown.
// Lower-case, without trailing dot.
std::string organizational_domain(std::string_view domain);

// Identifier alignment (§3.1): strict = the same name, relaxed = the same organizational
// domain; case-insensitive, a trailing dot ignored. An empty name is never aligned.
bool aligned(std::string_view from_domain, std::string_view other, Alignment mode);

// What discovery found at one name: the TXT answer for _dmarc.<name>.
struct Lookup {
    std::string name;  // the domain asked about (without "_dmarc.")
    dns::TxtAnswer answer;
};

// The names discovery asks about for `from_domain`: the author domain, then its
// organizational domain when that differs (§6.6.3 steps 1 and 3).
std::vector<std::string> discovery_names(std::string_view from_domain);

// Pure evaluation given the answers already fetched, in discovery order: `lookups[0]` for the
// author domain and, when that held no DMARC record, `lookups[1]` for the organizational
// domain. A missing second lookup where one is needed yields temperror (callers always fetch
// it; see evaluate_with_dns). `sample` in [0,100) decides pct= (the record applies when
// sample < pct); callers pass a random number, tests fixed ones.
Evaluation evaluate(const Inputs& inputs, const std::vector<Lookup>& lookups, unsigned sample);

// Discovery through `resolver` (TXT _dmarc.<from>, then _dmarc.<org domain>), then evaluate().
// Never throws on DNS failure: a temporary DNS error is Result::TempError.
boost::asio::awaitable<Evaluation> evaluate_with_dns(dns::Resolver& resolver, Inputs inputs,
                                                     unsigned sample);

}  // namespace petrel::mailauth::dmarc
