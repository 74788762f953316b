// mailauth/dkim/key_record.h — the DKIM public key record (selector._domainkey.domain TXT).
//
// Trust: TXT text from DNS, hostile. The key bytes are handed to OpenSSL 3 only after the
// record parsed; RSA keys shorter than 1024 bits are refused (RFC 8301 §3.2) and longer than
// 8192 bits too (work bound); Ed25519 keys are exactly 32 raw bytes (RFC 8463 §4).
// RFC 6376 §3.6.1 (tags v, h, k, n, p, s, t), §3.6.2.2 (TXT strings concatenated), §6.1.2
// (what makes a key unusable: permerror).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/types.h>

namespace petrel::mailauth::dkim {

enum class KeyType { Rsa, Ed25519 };
const char* to_string(KeyType t);

using PKey = std::shared_ptr<EVP_PKEY>;
PKey wrap(EVP_PKEY* key);  // takes ownership; nullptr stays empty

struct KeyRecord {
    KeyType type = KeyType::Rsa;  // k= (default rsa)
    PKey key;                     // empty when the key is revoked (p= empty)
    bool revoked = false;
    bool testing = false;         // t=y
    bool strict = false;          // t=s: i= domain must equal d=
    bool allows_sha256 = true;    // h= (absent: every hash)
    unsigned bits = 0;            // RSA modulus size
};

// Parses a key record. nullopt with `error`: "syntax", "unsupported version", "unsupported
// key type", "not for email" (s= without * or email), "bad key" (p= undecodable or not a key),
// "key too short" (RSA < 1024 bits), "key too long".
std::optional<KeyRecord> parse_key_record(std::string_view txt, std::string& error);

// The RSA modulus size of a key in bits (0 for other key types).
unsigned rsa_bits(EVP_PKEY* key);

}  // namespace petrel::mailauth::dkim
