// mailauth/dkim/signer.h — DKIM signing: the DKIM-Signature fields to prepend to a message.
//
// Trust: the message is our own outbound mail (from the spool) but is still parsed with the
// same bounded parser as inbound mail; the keys are the operator's (key_store.h).
// RFC 6376 §5 (signer actions: §5.4 which fields, §5.4.2 oversigning, §5.5 the hash, §5.6 the
// field), §3.5 (tags), §3.7 (hash input); RFC 8463 §3 (ed25519-sha256); RFC 8301 §3.2 (RSA of
// 1024 bits at least; keygen makes 2048 by default). Output is folded at 78 columns
// (RFC 5322 §2.1.1) with CRLF + TAB.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailauth/dkim/canonicalize.h"
#include "mailauth/dkim/key_record.h"
#include "mailauth/dkim/signature.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {

struct SigningKey {
    std::string domain;    // d=
    std::string selector;  // s=
    KeyType type = KeyType::Rsa;
    PKey key;              // private key
    std::string path;      // where it was loaded from (for logs), may be empty
};

struct SignOptions {
    Canon header_canon = Canon::Relaxed;
    Canon body_canon = Canon::Relaxed;
    // Each instance of these that the message has is signed (bottom-up, §5.4.2).
    std::vector<std::string> headers;
    // These are listed once more than present, so an added instance breaks the signature
    // ("oversigning"; a name absent from the message signs its absence).
    std::vector<std::string> oversign;
    std::optional<std::chrono::seconds> expiration;  // x= = t= + this
    bool timestamp = true;                           // t=
};

// The default lists: From, To, Cc, Subject, Date, Message-ID, Reply-To, MIME and list headers;
// oversigned: From, Subject, To, Cc, Date, Message-ID, Reply-To, Sender, MIME-Version,
// Content-Type, Content-Transfer-Encoding, In-Reply-To, References.
const std::vector<std::string>& default_signed_headers();
const std::vector<std::string>& default_oversigned_headers();
SignOptions default_sign_options();

struct SignOutcome {
    std::string header;  // one "DKIM-Signature: ...\r\n" field per key, to prepend
    std::string error;   // empty on success
    bool ok() const { return error.empty(); }
};

// Signs `message` (CRLF line ends) with every key in `keys` (dual signing: e.g. one RSA and
// one Ed25519 key). Fails when the message cannot be parsed, has no From field (§5.4: From
// must be signed), or a key cannot sign.
SignOutcome sign_message(std::string_view message, const std::vector<SigningKey>& keys,
                         const SignOptions& options, uint64_t now);

// The raw signature over a prepared field: `field_without_b` is the complete DKIM-Signature
// field as it will appear, ending in "b=" with nothing after it; `names` is its h= list.
// Used by sign_message and by the RFC 8463 reproduction test. nullopt if signing fails.
std::optional<std::string> sign_prepared(const ParsedMessage& msg, std::string_view field_without_b,
                                         const std::vector<std::string>& names, Canon header_canon,
                                         Algorithm alg, EVP_PKEY* key);

}  // namespace petrel::mailauth::dkim
