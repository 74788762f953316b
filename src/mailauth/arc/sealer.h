// mailauth/arc/sealer.h — ARC sealing: the ARC set (AS, AMS, AAR) a forwarding hop prepends.
//
// Trust: the message may be inbound mail (hostile bytes) being forwarded; it is parsed with the
// same bounded parser as for verification. The key is the operator's (dkim/key_store.h). The
// chain validation status to record comes from the caller (normally arc::verify on the same
// message); the sealer refuses to extend a chain it cannot extend.
// RFC 8617 §5.1 (sealer actions: §5.1.1 the AMS, then the AS over the sets 1..i in order AAR,
// AMS, AS with relaxed canonicalization), §4.1.1 (the AAR: "i=N; " + Authentication-Results
// payload), §4.2.1 (at most 50 sets), §4.1.3 (AS tags). Fields are written with tags in
// alphabetical order, one tag per folded line (lines stay under RFC 5322's 998 octets).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mailauth/arc/verifier.h"
#include "mailauth/dkim/signer.h"

namespace petrel::mailauth::arc {

struct SealRequest {
    // The AAR payload after "i=N; ": the authserv-id and the results, e.g.
    // "mx.example.org; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org".
    std::string results;
    std::vector<std::string> headers;  // AMS h= (names, signed bottom-up as DKIM does)
    ChainResult cv = ChainResult::None;  // the chain as this hop validated it
    uint64_t now = 0;                    // t=
    int max_instances = 50;
};

struct SealOutcome {
    std::string fields;  // "ARC-Seal: ...\r\nARC-Message-Signature: ...\r\nARC-Authentication-Results: ...\r\n"
    int instance = 0;
    std::string error;   // empty on success
    bool ok() const { return error.empty(); }
};

// Seals `message` (CRLF line ends). Refused: an unreadable header section, a chain whose
// structure is broken, cv=fail (petrel does not extend a chain that failed: a cv=fail set
// carries no trust downstream, and the suite's no_additional_sig asks the same when the
// newest seal already says fail), cv that contradicts the message (none with sets present,
// pass without), max_instances reached, a key that cannot sign.
SealOutcome seal(std::string_view message, const dkim::SigningKey& key, const SealRequest& request);

}  // namespace petrel::mailauth::arc
