// mailauth/arc/verifier.h — ARC chain validation (RFC 8617 §5.2), pure given the key records.
//
// Trust: the message and the key records are hostile bytes. No I/O: keys come from a
// dkim::KeyFetcher (unit tests and fuzzers feed records directly; verify_with_dns fetches
// them through dns::Resolver). Work is bounded: at most `max_instances` ARC sets (RFC 8617
// §4.2.1: 50), the header section bounded by HeaderLimits, one body hash per AMS checked.
// RFC 8617 §4.1 (the three header fields), §4.2 (instance tags), §4.4 (chain validation
// status cv=), §5.1.1 (what the ARC-Seal signs), §5.2 (validator actions, oldest-pass),
// reusing RFC 6376 §3.4 canonicalization and §3.5 tags for the AMS.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "dns/resolver.h"
#include "mailauth/dkim/verifier.h"

namespace petrel::mailauth::arc {

enum class ChainResult { None, Pass, Fail };  // RFC 8617 §4.4 cv= values
const char* to_string(ChainResult r);         // "none", "pass", "fail"

struct ChainReport {
    ChainResult result = ChainResult::None;
    int instances = 0;                     // highest i= seen (0 when no ARC sets)
    int oldest_pass = 0;                   // RFC 8617 §5.2 oldest-pass (0 when not computed)
    std::string detail;                    // why it failed, for logs and A-R comments
    std::vector<std::string> ams_domains;  // d= of each AMS by instance (for logs)
    bool temporary = false;  // a key lookup failed temporarily: a Fail may not be final
};

struct VerifyOptions {
    uint64_t now = 0;        // Unix time, for an AMS x= (0: not checked)
    int max_instances = 50;  // RFC 8617 §4.2.1
    HeaderLimits header_limits;
};

// Validates the ARC chain of `message` (CRLF line ends). None when the message carries no
// ARC header fields (or its header section cannot be parsed); Fail with `detail` for any
// structural or cryptographic failure. oldest_pass (on Pass only): 0 when every AMS still
// verifies, else the lowest instance from which every AMS up to the newest does.
// Pass the options as `arc::VerifyOptions{}`, not `{}`: argument-dependent lookup also finds
// dkim::verify through the KeyFetcher, and a bare `{}` is ambiguous between the two.
ChainReport verify(std::string_view message, const dkim::KeyFetcher& fetch, const VerifyOptions& options);

// The key names ("selector._domainkey.domain") the chain needs (every AS and AMS of a
// structurally valid chain), without duplicates: what an async caller looks up first.
std::vector<std::string> key_names(std::string_view message, const VerifyOptions& options);

// Looks up key_names through `resolver`, then runs verify. Threads: as dns::Resolver.
boost::asio::awaitable<ChainReport> verify_with_dns(dns::Resolver& resolver, std::string message,
                                                    VerifyOptions options);

}  // namespace petrel::mailauth::arc
