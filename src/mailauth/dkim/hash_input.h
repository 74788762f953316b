// mailauth/dkim/hash_input.h — the bytes a DKIM signature covers, shared by signer and verifier.
//
// Trust: message bytes are hostile; the work is linear in the message and in h=.
// RFC 6376 §3.7 (the hash computation: body hash, then the header fields named in h= selected
// bottom-up, a name listed more often than present contributing nothing, then the
// DKIM-Signature field itself with b= empty and no final CRLF), §5.4.2 (multiple instances).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "mailauth/dkim/canonicalize.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {

// An OpenSSL digest context that frees itself (signer, verifier and hashing share it).
struct MdCtx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    MdCtx() = default;
    MdCtx(const MdCtx&) = delete;
    MdCtx& operator=(const MdCtx&) = delete;
    ~MdCtx() { EVP_MD_CTX_free(ctx); }
};

// SHA-256 of `data` (32 raw bytes).
std::string sha256(std::string_view data);

// SHA-256 of the canonical body, at most `limit` canonical bytes of it. `whole_length` (when
// given) receives the length of the whole canonical body.
std::string body_hash(std::string_view body, Canon canon, std::optional<uint64_t> limit,
                      uint64_t* whole_length = nullptr);

// The header part of the signed data: the fields named in `names` (case-insensitive), each
// selected from the bottom up among those not yet used, canonicalized, followed by
// `signature_field` (raw "DKIM-Signature: ...b=..." with the b= value already removed)
// canonicalized without its final CRLF.
std::string header_hash_input(const std::vector<HeaderField>& fields,
                              const std::vector<std::string>& names, Canon canon,
                              std::string_view signature_field);

}  // namespace petrel::mailauth::dkim
