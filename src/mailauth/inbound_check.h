// mailauth/inbound_check.h — every authentication check petrel runs on a message received on
// an mx listener, and the Authentication-Results field that records them.
//
// Order (each step uses the ones before): SPF for MAIL FROM (for the null reverse-path the
// MAIL FROM identity is postmaster@HELO, RFC 7208 §2.4), DKIM for every signature (RFC 6376
// §6), DMARC from those two (RFC 7489 §6.6), ARC (RFC 8617 §5.2); then one
// Authentication-Results field (RFC 8601, built by auth_results.h).
// Trust: facts and message come from the SMTP client; DNS answers are hostile too. Nothing
// here trusts either beyond what the verifiers check, and every value that reaches the header
// passes auth_results.h's gate (no CR/LF injection from d=, s=, MAIL FROM or HELO).
// Deadline: every DNS lookup completes (dns/resolver.h) and the number of lookups is bounded
// by the verifiers' limits (SPF §4.6.4, DKIM max_signatures, DMARC two names, ARC instances).
// Threads: as dns::Resolver (its io thread only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "dns/resolver.h"
#include "mailauth/auth_results.h"
#include "mailauth/dkim/verifier.h"
#include "mailauth/spf/check_host.h"

namespace petrel::mailauth {

// What the SMTP session knew when the message was accepted.
struct InboundFacts {
    std::string client_ip;  // textual, no brackets ("192.0.2.1", "2001:db8::1")
    std::string helo;       // the EHLO/HELO argument
    std::string mail_from;  // the reverse-path without <>; "" for the null reverse-path
    std::string receiver;   // petrel's host name (SPF %{r})
    int64_t now = 0;        // Unix time (SPF %{t}, DKIM x=)
};

struct InboundOptions {
    std::string authserv_id;  // RFC 8601 §2.5; the header names it
    unsigned dmarc_sample = 0;  // [0,100): DMARC pct= sampling (RFC 7489 §6.6.4)
};

// What DMARC asks petrel to do with the message (after pct= sampling).
enum class Disposition { None, Quarantine, Reject };

struct InboundVerdict {
    spf::Outcome spf;
    std::string spf_identity;  // the MAIL FROM address checked (postmaster@HELO for <>)
    dkim::VerifyReport dkim;
    // DMARC (RFC 7489 §11.2 result words).
    std::string dmarc_result = "none";
    std::string dmarc_policy;      // "none" | "quarantine" | "reject" ("" without a record)
    std::string header_from;       // the RFC5322.From domain
    std::string dmarc_detail;
    Disposition disposition = Disposition::None;
    // ARC (RFC 8617 §4.4 cv= words).
    std::string arc_result = "none";
    int arc_instances = 0;
    std::string arc_detail;

    std::vector<ResultInfo> results;  // one per method (and per DKIM signature)
    std::string header;               // the Authentication-Results field, CRLF-terminated
    std::string summary() const;      // "spf=pass dkim=pass dmarc=pass arc=none" for logs
};

// Runs every check. `message` is the whole message as received (CRLF line ends), before
// petrel adds anything; the coroutine keeps its own copy.
boost::asio::awaitable<InboundVerdict> check_inbound(dns::Resolver& resolver, InboundFacts facts,
                                                     std::string message, InboundOptions options);

// Pure: the resinfo list for the verdict's results (spf, dkim per signature, dmarc, arc).
// Exposed for unit tests; check_inbound fills `results` and `header` with it.
std::vector<ResultInfo> describe(const InboundFacts& facts, const InboundVerdict& verdict);

}  // namespace petrel::mailauth
