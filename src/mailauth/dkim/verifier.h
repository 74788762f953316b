// mailauth/dkim/verifier.h — DKIM verification of every signature of a message, pure.
//
// Trust: the message and the key records are hostile. No I/O: the caller passes a key lookup
// function (unit tests and fuzzers feed records directly; dkim/dns_verify.h fetches them
// through dns::Resolver). Work is bounded: at most `max_signatures` signatures are evaluated
// (the others are reported neutral, "not checked"), the header section is bounded by
// HeaderLimits, each signature hashes the body once.
// RFC 6376 §6 (verifier actions: §6.1.1 signature validation, §6.1.2 key retrieval, §6.1.3
// hash and signature check), §3.5 (x=, l=), §3.6.1 (key t=s, h=); RFC 8463 (Ed25519:
// signature over the SHA-256 of the data); RFC 8301 §3.1–3.2 (rsa-sha1 and RSA keys under
// 1024 bits are not acceptable); RFC 8601 §2.7.1 (the result words).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "dns/records.h"
#include "mailauth/dkim/signature.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {

enum class Result { Pass, Fail, Neutral, TempError, PermError };
const char* to_string(Result r);  // "pass", "fail", "neutral", "temperror", "permerror"

enum class Reason {
    None,
    Syntax,               // the DKIM-Signature field is malformed (detail says how)
    AlgorithmNotAllowed,  // rsa-sha1 (RFC 8301 §3.1)
    Expired,              // x= is in the past
    KeyNotFound,          // NXDOMAIN / no TXT record
    KeyTempError,         // DNS temporary failure
    KeyRevoked,           // p= empty
    KeySyntax,            // the key record is unusable (detail says how)
    KeyTooShort,          // RSA under 1024 bits (RFC 8301 §3.2)
    KeyMismatch,          // k= does not match a=, or h= of the key excludes sha256
    StrictIdentity,       // key t=s and i= is a subdomain of d=
    BodyLengthExceeded,   // l= larger than the body
    BodyHashMismatch,
    SignatureMismatch,
    NotChecked,           // beyond max_signatures
};
const char* to_string(Reason r);

// What a TXT lookup of "selector._domainkey.domain" returned.
struct KeyLookup {
    dns::Status status = dns::Status::Ok;
    std::vector<std::string> records;  // the text of each TXT record (strings concatenated)
};
using KeyFetcher = std::function<KeyLookup(const std::string& name)>;

struct SignatureResult {
    Result result = Result::PermError;
    Reason reason = Reason::None;
    std::string detail;     // a short explanation for logs and Authentication-Results
    std::string domain;     // d=
    std::string selector;   // s=
    std::string identity;   // i= (or "@" + d)
    std::string algorithm;  // a= as understood ("" if unreadable)
    std::string b;          // b= without FWS (RFC 6008 header.b uses a prefix of it)
    std::optional<uint64_t> body_length;  // l= when present: only part of the body is signed
    bool body_truncated = false;          // l= shorter than the body: content may be appended
    bool testing = false;                 // key t=y
};

struct VerifyOptions {
    uint64_t now = 0;            // Unix time, for x=
    size_t max_signatures = 5;   // evaluated per message (work bound)
    HeaderLimits header_limits;
};

struct VerifyReport {
    bool message_ok = true;   // false: the header section could not be parsed (see error)
    std::string error;
    std::vector<SignatureResult> results;  // one per DKIM-Signature field, top to bottom
    bool any_pass() const;
};

VerifyReport verify(std::string_view message, const KeyFetcher& fetch, const VerifyOptions& options);

// The key names ("selector._domainkey.domain") the first `max_signatures` readable
// signatures need, without duplicates: what an async caller looks up before calling verify.
std::vector<std::string> key_names(std::string_view message, const VerifyOptions& options);

// Checks `signature` (raw bytes) over `data` with `key` and the algorithm; for Ed25519 the
// signed value is SHA-256(data) (RFC 8463 §3). Shared with the signer's self-check.
bool check_signature(Algorithm alg, EVP_PKEY* key, std::string_view data, std::string_view signature);

}  // namespace petrel::mailauth::dkim
