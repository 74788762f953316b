// mailauth/dkim/key_store.h — DKIM keys on disk: generation, the DNS record, loading for signing.
//
// Layout (docs/dkim.md): <data_dir>/dkim/<domain>/<selector>.<rsa|ed25519>.pem, PKCS#8 PEM,
// file mode 0600 in directories of mode 0700. The domain is the signing domain (d=), the
// selector s=; both are lower-case DNS names. Files are written by `petrel dkim keygen` and read
// at start-up (as root, before the privilege drop) by load_signing_keys.
// Trust: the files and the config are the operator's; names are still checked, since they
// become paths. This is the one part of mailauth/ that touches the filesystem.
// RFC 6376 §3.6.1 (key record), §3.6.2.2 (TXT strings of at most 255 bytes, concatenated);
// RFC 8463 §4 (Ed25519 p= is the raw 32-byte key); RFC 8301 §3.2 (RSA 1024 bits at least).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "mailauth/dkim/key_record.h"
#include "mailauth/dkim/signer.h"

namespace petrel::mailauth::dkim {

constexpr unsigned kDefaultRsaBits = 2048;
constexpr unsigned kMinRsaBits = 1024;
constexpr unsigned kMaxRsaBits = 4096;

// A new private key; nullptr when OpenSSL fails or `bits` is out of [1024, 4096].
PKey generate_key(KeyType type, unsigned bits = kDefaultRsaBits);
std::string private_key_pem(EVP_PKEY* key);  // PKCS#8
PKey load_private_key(const std::string& path, std::string& error);

// "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519; p=<raw 32 bytes>".
std::string public_key_record(EVP_PKEY* key);

// `selector._domainkey.domain. IN TXT "…" "…"`: the record split into strings of at most 255
// bytes (RFC 6376 §3.6.2.2), as a zone-file line.
std::string dns_txt_line(std::string_view selector, std::string_view domain, std::string_view record);

std::string key_directory(const std::string& data_dir, std::string_view domain);
std::string key_path(const std::string& data_dir, std::string_view domain, std::string_view selector,
                     KeyType type);

// Writes `pem` to `path` with mode 0600 (directories 0700), refusing to overwrite an existing
// file. False with `error` on failure. Run as root, what it creates takes the owner of the
// directory it is created in, so that a daemon which dropped privileges to the data_dir's
// owner can read a key made while it runs (SIGHUP reloads keys).
bool write_private_key(const std::string& path, const std::string& pem, std::string& error);

struct StoredKey {
    std::string domain;
    std::string selector;
    KeyType type = KeyType::Rsa;
    std::string path;
};

// The keys under <data_dir>/dkim/<domain>/ (every domain when `domain` is empty), sorted by
// domain, selector, type. Files that do not follow the layout are skipped.
std::vector<StoredKey> list_keys(const std::string& data_dir, std::string_view domain = {});

// What delivery signs with: per signing domain its keys and options.
struct DomainSigner {
    std::string domain;
    std::vector<SigningKey> keys;
    SignOptions options;
};

struct SigningKeys {
    std::vector<DomainSigner> domains;
    std::vector<std::string> errors;    // key files that cannot be used (each names the file)
    std::vector<std::string> warnings;  // configured selectors without a key

    // The signer for `domain`, or for its nearest parent domain that has one; nullptr if none.
    const DomainSigner* find(std::string_view domain) const;
};

// Every key found under <data_dir>/dkim/, filtered and tuned by [dkim] (enabled, per-domain
// enabled and selectors, canonicalization, headers, oversign, expiration). Disabled: empty.
SigningKeys load_signing_keys(const std::string& data_dir, const config::Dkim& cfg);

// The domain of the first From field's address (lower case), or "" when there is none.
std::string from_domain(std::string_view message);

// What delivery calls for each outbound message: signs with the keys of the From domain (or
// its parent). `header` empty and no error: nothing to sign with for that domain.
SignOutcome sign_outbound(const SigningKeys& keys, std::string_view message, uint64_t now);

}  // namespace petrel::mailauth::dkim
