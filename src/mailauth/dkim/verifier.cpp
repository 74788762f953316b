// mailauth/dkim/verifier.cpp — see verifier.h. RFC 6376 §6; RFC 8463; RFC 8301.
#include "mailauth/dkim/verifier.h"

#include <openssl/evp.h>

#include "mailauth/dkim/hash_input.h"
#include "mailauth/dkim/key_record.h"

namespace petrel::mailauth::dkim {

namespace {

SignatureResult outcome(SignatureResult r, Result result, Reason reason, std::string detail) {
    r.result = result;
    r.reason = reason;
    r.detail = std::move(detail);
    return r;
}

std::string key_name(const Signature& sig) { return sig.selector + "._domainkey." + sig.domain; }

bool key_fits(KeyType type, Algorithm alg) {
    return (type == KeyType::Ed25519) == (alg == Algorithm::Ed25519Sha256);
}

SignatureResult verify_one(const ParsedMessage& msg, const HeaderField& field,
                           const KeyFetcher& fetch, const VerifyOptions& options) {
    SignatureResult r;
    std::string error;
    auto sig = parse_signature(field, error);
    if (!sig) return outcome(r, Result::PermError, Reason::Syntax, error);
    r.domain = sig->domain;
    r.selector = sig->selector;
    r.identity = sig->identity;
    r.algorithm = to_string(sig->algorithm);
    r.b = sig->b_text;
    r.body_length = sig->body_length;
    if (sig->algorithm == Algorithm::RsaSha1) {
        return outcome(r, Result::PermError, Reason::AlgorithmNotAllowed,
                       "rsa-sha1 is not acceptable (RFC 8301)");
    }
    if (sig->expiration && *sig->expiration < options.now) {
        return outcome(r, Result::PermError, Reason::Expired, "signature expired (x=)");
    }

    // §6.1.2: the key.
    KeyLookup lookup = fetch(key_name(*sig));
    if (lookup.status != dns::Status::Ok || lookup.records.empty()) {
        if (dns::is_temporary(lookup.status)) {
            return outcome(r, Result::TempError, Reason::KeyTempError,
                           std::string("key lookup: ") + dns::to_string(lookup.status));
        }
        return outcome(r, Result::PermError, Reason::KeyNotFound, "no key for signature");
    }
    // Several records (e.g. one rsa, one ed25519 under one selector): use those that parse and
    // fit the algorithm; report the first record's problem when none does.
    std::vector<KeyRecord> keys;
    Reason key_reason = Reason::KeySyntax;
    std::string key_error;
    for (const std::string& txt : lookup.records) {
        std::string e;
        auto rec = parse_key_record(txt, e);
        if (!rec) {
            if (key_error.empty()) {
                key_error = "key: " + e;
                key_reason = e == "key too short" ? Reason::KeyTooShort : Reason::KeySyntax;
            }
            continue;
        }
        if (!rec->revoked && !key_fits(rec->type, sig->algorithm)) {
            if (key_error.empty()) {
                key_error = "key type does not match a=";
                key_reason = Reason::KeyMismatch;
            }
            continue;
        }
        keys.push_back(std::move(*rec));
    }
    if (keys.empty()) return outcome(r, Result::PermError, key_reason, key_error);
    const KeyRecord& first = keys.front();
    r.testing = first.testing;
    if (first.revoked) return outcome(r, Result::PermError, Reason::KeyRevoked, "key revoked");
    if (!first.allows_sha256) {
        return outcome(r, Result::PermError, Reason::KeyMismatch, "key h= excludes sha256");
    }
    if (first.strict) {
        std::string idom = to_lower(sig->identity.substr(sig->identity.rfind('@') + 1));
        if (idom != sig->domain) {
            return outcome(r, Result::PermError, Reason::StrictIdentity,
                           "key t=s requires i= domain equal to d=");
        }
    }

    // §6.1.3: body hash, then the header hash and the signature.
    uint64_t whole = 0;
    std::string bh = body_hash(msg.body, sig->body_canon, sig->body_length, &whole);
    if (sig->body_length) {
        if (*sig->body_length > whole) {
            return outcome(r, Result::PermError, Reason::BodyLengthExceeded, "l= exceeds the body");
        }
        r.body_truncated = *sig->body_length < whole;
    }
    if (bh != sig->body_hash) {
        return outcome(r, Result::Fail, Reason::BodyHashMismatch, "body hash did not verify");
    }
    std::string data = header_hash_input(msg.fields, sig->headers, sig->header_canon, sig->raw_without_b);
    for (const KeyRecord& k : keys) {
        if (k.revoked) continue;
        if (check_signature(sig->algorithm, k.key.get(), data, sig->signature)) {
            r.testing = k.testing;
            std::string note = r.body_truncated ? "l= leaves part of the body unsigned" : "";
            return outcome(r, Result::Pass, Reason::None, note);
        }
    }
    return outcome(r, Result::Fail, Reason::SignatureMismatch, "signature did not verify");
}

}  // namespace

const char* to_string(Result r) {
    switch (r) {
        case Result::Pass: return "pass";
        case Result::Fail: return "fail";
        case Result::Neutral: return "neutral";
        case Result::TempError: return "temperror";
        case Result::PermError: return "permerror";
    }
    return "?";
}

const char* to_string(Reason r) {
    switch (r) {
        case Reason::None: return "none";
        case Reason::Syntax: return "syntax";
        case Reason::AlgorithmNotAllowed: return "algorithm not allowed";
        case Reason::Expired: return "expired";
        case Reason::KeyNotFound: return "key not found";
        case Reason::KeyTempError: return "key lookup failed";
        case Reason::KeyRevoked: return "key revoked";
        case Reason::KeySyntax: return "key syntax";
        case Reason::KeyTooShort: return "key too short";
        case Reason::KeyMismatch: return "key mismatch";
        case Reason::StrictIdentity: return "identity mismatch";
        case Reason::BodyLengthExceeded: return "l= exceeds body";
        case Reason::BodyHashMismatch: return "body hash mismatch";
        case Reason::SignatureMismatch: return "signature mismatch";
        case Reason::NotChecked: return "not checked";
    }
    return "?";
}

bool VerifyReport::any_pass() const {
    for (const auto& r : results) {
        if (r.result == Result::Pass) return true;
    }
    return false;
}

bool check_signature(Algorithm alg, EVP_PKEY* key, std::string_view data, std::string_view signature) {
    if (!key) return false;
    MdCtx c;
    const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
    if (alg == Algorithm::Ed25519Sha256) {
        // RFC 8463 §3: PureEdDSA over the SHA-256 hash of the data.
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 || signature.size() != 64) return false;
        std::string digest = sha256(data);
        if (EVP_DigestVerifyInit(c.ctx, nullptr, nullptr, nullptr, key) != 1) return false;
        return EVP_DigestVerify(c.ctx, sig, signature.size(),
                                reinterpret_cast<const unsigned char*>(digest.data()), digest.size()) == 1;
    }
    if (alg != Algorithm::RsaSha256 || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return false;
    if (EVP_DigestVerifyInit(c.ctx, nullptr, EVP_sha256(), nullptr, key) != 1) return false;
    return EVP_DigestVerify(c.ctx, sig, signature.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

VerifyReport verify(std::string_view message, const KeyFetcher& fetch, const VerifyOptions& options) {
    VerifyReport report;
    auto msg = parse_message(message, report.error, options.header_limits);
    if (!msg) {
        report.message_ok = false;
        return report;
    }
    size_t seen = 0;
    for (const HeaderField& f : msg->fields) {
        if (!iequals(f.name, "DKIM-Signature")) continue;
        if (seen++ >= options.max_signatures) {
            SignatureResult r;
            r.result = Result::Neutral;
            r.reason = Reason::NotChecked;
            r.detail = "more than " + std::to_string(options.max_signatures) + " signatures";
            report.results.push_back(std::move(r));
            continue;
        }
        report.results.push_back(verify_one(*msg, f, fetch, options));
    }
    return report;
}

std::vector<std::string> key_names(std::string_view message, const VerifyOptions& options) {
    std::vector<std::string> names;
    std::string error;
    auto msg = parse_message(message, error, options.header_limits);
    if (!msg) return names;
    size_t seen = 0;
    for (const HeaderField& f : msg->fields) {
        if (!iequals(f.name, "DKIM-Signature") || seen++ >= options.max_signatures) continue;
        auto sig = parse_signature(f, error);
        if (!sig || sig->algorithm == Algorithm::RsaSha1) continue;
        std::string n = key_name(*sig);
        bool dup = false;
        for (const auto& x : names) dup = dup || x == n;
        if (!dup) names.push_back(std::move(n));
    }
    return names;
}

}  // namespace petrel::mailauth::dkim
