// mailauth/arc/arc_set.h — the ARC header fields of a message, parsed and grouped into sets.
//
// Trust: every field is hostile message bytes. Nothing here verifies a signature; it decides
// whether the chain is well formed (RFC 8617 §5.2 steps 1–3) and turns each ARC-Seal and
// ARC-Message-Signature into a struct the verifier can check. Work is linear in the header
// section; instances are bounded by `max_instances` (RFC 8617 §4.2.1: at most 50).
// RFC 8617 §4.1.1 (ARC-Authentication-Results: "i=N;" first), §4.1.2 (ARC-Message-Signature:
// DKIM-Signature syntax without v=, i= is the instance), §4.1.3 (ARC-Seal: a, b, cv, d, i, s,
// t; no h=), §4.2.1 (instance 1..50), §4.4 (cv values), §5.2 steps 1–3 (structure: one field
// of each kind per instance, instances 1..N without gaps, cv=none at i=1 and pass above);
// RFC 6376 §3.2 (tag lists), §3.5 (the AMS tags it shares with DKIM).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailauth/dkim/canonicalize.h"
#include "mailauth/dkim/signature.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::arc {

enum class Cv { None, Pass, Fail };  // RFC 8617 §4.4

// What ARC-Seal and ARC-Message-Signature share (i, a, b, d, s and the b=-less field).
struct SignedField {
    int instance = 0;
    dkim::Algorithm algorithm = dkim::Algorithm::RsaSha256;
    std::string signature;      // b=, decoded
    std::string domain;         // d=, lower case
    std::string selector;       // s=, lower case
    std::string raw_without_b;  // the field with the b= value removed (RFC 6376 §3.7)
};

// An ARC-Seal (§4.1.3). Signs the ARC sets 1..i with relaxed header canonicalization.
struct Seal : SignedField {
    Cv cv = Cv::None;
};

// An ARC-Message-Signature (§4.1.2): a DKIM signature of the message without v= and AUID.
struct MessageSignature : SignedField {
    std::string body_hash;  // bh=, decoded
    dkim::Canon header_canon = dkim::Canon::Simple;  // c= default simple/simple (RFC 6376 §3.5)
    dkim::Canon body_canon = dkim::Canon::Simple;
    std::vector<std::string> headers;  // h=, lower case; may be empty
    std::optional<uint64_t> expiration;  // x=
};

// One ARC set: the three fields sharing an instance number (views into the message).
struct ArcSet {
    int instance = 0;
    const HeaderField* aar = nullptr;
    const HeaderField* ams = nullptr;
    const HeaderField* seal = nullptr;
};

struct Chain {
    bool present = false;       // the message has at least one ARC header field
    std::string error;          // empty when the structure is valid
    std::vector<ArcSet> sets;   // sets[k] has instance k+1; complete when error is empty
    std::vector<Seal> seals;    // parsed seals, same order (complete when error is empty)
};

// Groups the ARC header fields of `msg` and checks the structure (§5.2 steps 1–3, with the
// newest seal's cv=fail reported as such). `chain.error` names the first problem found.
Chain collect_chain(const ParsedMessage& msg, int max_instances);

// The instance of an ARC-Authentication-Results value ("i=N;" before the authserv-id).
std::optional<int> aar_instance(std::string_view value);

// Parses one ARC-Seal / ARC-Message-Signature field; nullopt with a short `error`.
std::optional<Seal> parse_seal(const HeaderField& field, std::string& error);
std::optional<MessageSignature> parse_message_signature(const HeaderField& field, std::string& error);

}  // namespace petrel::mailauth::arc
