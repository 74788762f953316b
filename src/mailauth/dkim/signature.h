// mailauth/dkim/signature.h — the DKIM-Signature header field, parsed and checked.
//
// Trust: the field is hostile message bytes. Parsing never throws; every problem is a
// `SignatureError` with a reason a verifier reports as permerror.
// RFC 6376 §3.5 (the tags), §6.1.1 (validation: required tags, v=1, i= within d=, h= naming
// From, x= after t=), §3.7 (the b= value is emptied for hashing); RFC 8463 §3 (ed25519-sha256);
// RFC 8301 §3.1 (rsa-sha1 is refused: we parse it so the reason can say so).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailauth/dkim/canonicalize.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {

enum class Algorithm { RsaSha256, Ed25519Sha256, RsaSha1 };
const char* to_string(Algorithm a);

struct Signature {
    Algorithm algorithm = Algorithm::RsaSha256;
    std::string signature;    // b=, decoded
    std::string b_text;       // b= as written without FWS (Authentication-Results header.b)
    std::string body_hash;    // bh=, decoded
    Canon header_canon = Canon::Simple;  // c= default "simple/simple" (§3.5)
    Canon body_canon = Canon::Simple;
    std::string domain;       // d=, lower case
    std::vector<std::string> headers;  // h=, lower case, in order
    std::string identity;     // i=, default "@" + d
    std::optional<uint64_t> body_length;  // l=
    std::string selector;     // s=, lower case
    std::optional<uint64_t> timestamp;    // t=
    std::optional<uint64_t> expiration;   // x=
    // For hashing: the DKIM-Signature field's raw bytes with the b= value removed (§3.7).
    std::string raw_without_b;
};

// Parses the value of one DKIM-Signature field. On error returns nullopt and a short reason:
// "syntax", "unsupported version", "missing tag X", "unsupported algorithm", "bad c=",
// "unsupported q=", "i= not within d=", "h= does not sign From", "bad l=", "x= before t=",...
std::optional<Signature> parse_signature(const HeaderField& field, std::string& error);

// One half of a c= value: "simple" or "relaxed" (RFC 6376 §3.4); false for anything else.
bool parse_canon(std::string_view s, Canon& out);

// The base64 decoder DKIM uses (RFC 6376 §2.4: FWS inside is ignored); nullopt if invalid.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

// True when `name` is a DNS label sequence DKIM accepts for d= and s= (RFC 6376 §3.5: domain
// and selector are dot-atoms of LDH labels; A-labels for IDNs).
bool is_dns_name(std::string_view name);

}  // namespace petrel::mailauth::dkim
