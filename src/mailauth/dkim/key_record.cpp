// mailauth/dkim/key_record.cpp — see key_record.h. RFC 6376 §3.6.1; RFC 8301 §3.2; RFC 8463 §4.
#include "mailauth/dkim/key_record.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "mailauth/dkim/signature.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {

namespace {

// p= is a SubjectPublicKeyInfo (RFC 6376 §3.6.1); some publish the bare PKCS#1 RSAPublicKey,
// which dkimpy and OpenDKIM accept too.
EVP_PKEY* decode_rsa(const std::string& der) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
    if (k && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
        EVP_PKEY_free(k);
        return nullptr;
    }
    if (!k) {
        p = reinterpret_cast<const unsigned char*>(der.data());
        k = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
    }
    if (k && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
        EVP_PKEY_free(k);
        return nullptr;
    }
    return k;
}

}  // namespace

const char* to_string(KeyType t) { return t == KeyType::Rsa ? "rsa" : "ed25519"; }

PKey wrap(EVP_PKEY* key) { return PKey(key, [](EVP_PKEY* k) { EVP_PKEY_free(k); }); }

unsigned rsa_bits(EVP_PKEY* key) {
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return 0;
    return static_cast<unsigned>(EVP_PKEY_get_bits(key));
}

std::optional<KeyRecord> parse_key_record(std::string_view txt, std::string& error) {
    auto tags = parse_tag_list(txt);
    if (!tags) {
        error = "syntax";
        return std::nullopt;
    }
    KeyRecord rec;
    if (const Tag* v = find_tag(*tags, "v"); v && v->value != "DKIM1") {
        error = "unsupported version";
        return std::nullopt;
    }
    if (const Tag* k = find_tag(*tags, "k")) {
        if (k->value == "rsa") rec.type = KeyType::Rsa;
        else if (k->value == "ed25519") rec.type = KeyType::Ed25519;
        else {
            error = "unsupported key type";
            return std::nullopt;
        }
    }
    if (const Tag* h = find_tag(*tags, "h")) rec.allows_sha256 = colon_list_contains(h->value, "sha256");
    if (const Tag* s = find_tag(*tags, "s")) {
        if (!colon_list_contains(s->value, "*") && !colon_list_contains(s->value, "email")) {
            error = "not for email";
            return std::nullopt;
        }
    }
    if (const Tag* t = find_tag(*tags, "t")) {
        rec.testing = colon_list_contains(t->value, "y");
        rec.strict = colon_list_contains(t->value, "s");
    }
    const Tag* p = find_tag(*tags, "p");
    if (!p) {
        error = "syntax";  // p= is required (§3.6.1)
        return std::nullopt;
    }
    if (strip_fws(p->value).empty()) {  // §3.6.1: an empty p= means the key was revoked
        rec.revoked = true;
        return rec;
    }
    auto der = base64_decode(p->value);
    if (!der) {
        error = "bad key";
        return std::nullopt;
    }
    if (rec.type == KeyType::Ed25519) {
        // RFC 8463 §4: the raw 32-byte public key, not wrapped in SubjectPublicKeyInfo.
        if (der->size() != 32) {
            error = "bad key";
            return std::nullopt;
        }
        rec.key = wrap(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                   reinterpret_cast<const unsigned char*>(der->data()),
                                                   der->size()));
    } else {
        rec.key = wrap(decode_rsa(*der));
        rec.bits = rsa_bits(rec.key.get());
    }
    if (!rec.key) {
        error = "bad key";
        return std::nullopt;
    }
    if (rec.type == KeyType::Rsa && rec.bits < 1024) {  // RFC 8301 §3.2
        error = "key too short";
        return std::nullopt;
    }
    if (rec.type == KeyType::Rsa && rec.bits > 8192) {
        error = "key too long";
        return std::nullopt;
    }
    return rec;
}

}  // namespace petrel::mailauth::dkim
