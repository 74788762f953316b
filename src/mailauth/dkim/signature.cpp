// mailauth/dkim/signature.cpp — see signature.h. RFC 6376 §3.5, §6.1.1; RFC 8463; RFC 8301.
#include "mailauth/dkim/signature.h"

#include <openssl/evp.h>

#include <charconv>

namespace petrel::mailauth::dkim {

namespace {

// RFC 6376 §3.5: t= and x= are at most 12 digits ("values ... MUST be at least 40 bits"); l=
// fits 76 bits but more than 2^63 cannot be a body length here.
std::optional<uint64_t> parse_decimal(std::string_view s, size_t max_digits) {
    if (s.empty() || s.size() > max_digits) return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// dkim-quoted-printable (RFC 6376 §2.11), as used in i=: "=XX" hex escapes.
std::optional<std::string> decode_qp(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '=') {
            out += s[i];
            continue;
        }
        auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            return -1;
        };
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

}  // namespace

bool parse_canon(std::string_view s, Canon& out) {
    if (s == "simple") out = Canon::Simple;
    else if (s == "relaxed") out = Canon::Relaxed;
    else return false;
    return true;
}

const char* to_string(Algorithm a) {
    switch (a) {
        case Algorithm::RsaSha256: return "rsa-sha256";
        case Algorithm::Ed25519Sha256: return "ed25519-sha256";
        case Algorithm::RsaSha1: return "rsa-sha1";
    }
    return "?";
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string in = strip_fws(text);
    if (in.size() % 4 != 0) return std::nullopt;
    if (in.empty()) return std::string();
    std::string out(in.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes.
    size_t pad = 0;
    if (in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i + pad < in.size(); ++i) {
        if (in[i] == '=') return std::nullopt;  // padding only at the end
    }
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

bool is_dns_name(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';  // "_" occurs in real selectors
        if (!ok || ++label > 63) return false;
    }
    return label != 0;
}

std::optional<Signature> parse_signature(const HeaderField& field, std::string& error) {
    auto tags = parse_tag_list(field.value);
    if (!tags) {
        error = "syntax";
        return std::nullopt;
    }
    Signature sig;
    auto need = [&](std::string_view name) -> const Tag* {
        const Tag* t = find_tag(*tags, name);
        if (!t) error = "missing tag " + std::string(name) + "=";
        return t;
    };
    // §6.1.1: v= first; the only version is 1.
    const Tag* v = need("v");
    if (!v) return std::nullopt;
    if (v->value != "1") {
        error = "unsupported version";
        return std::nullopt;
    }
    const Tag *a = need("a"), *b = a ? need("b") : nullptr, *bh = b ? need("bh") : nullptr,
              *d = bh ? need("d") : nullptr, *h = d ? need("h") : nullptr,
              *s = h ? need("s") : nullptr;
    if (!s) return std::nullopt;

    if (a->value == "rsa-sha256") sig.algorithm = Algorithm::RsaSha256;
    else if (a->value == "ed25519-sha256") sig.algorithm = Algorithm::Ed25519Sha256;
    else if (a->value == "rsa-sha1") sig.algorithm = Algorithm::RsaSha1;
    else {
        error = "unsupported algorithm";
        return std::nullopt;
    }
    auto bv = base64_decode(b->value);
    auto bhv = base64_decode(bh->value);
    if (!bv || bv->empty() || !bhv) {
        error = !bv || bv->empty() ? "bad b=" : "bad bh=";
        return std::nullopt;
    }
    sig.signature = std::move(*bv);
    sig.b_text = strip_fws(b->value);
    sig.body_hash = std::move(*bhv);

    if (const Tag* c = find_tag(*tags, "c")) {
        std::string_view cv = c->value;
        size_t slash = cv.find('/');
        bool ok = parse_canon(cv.substr(0, slash), sig.header_canon);
        if (ok && slash != std::string_view::npos) ok = parse_canon(cv.substr(slash + 1), sig.body_canon);
        if (!ok) {
            error = "bad c=";
            return std::nullopt;
        }
    }
    sig.domain = to_lower(d->value);
    sig.selector = to_lower(s->value);
    if (!is_dns_name(sig.domain) || !is_dns_name(sig.selector)) {
        error = !is_dns_name(sig.domain) ? "bad d=" : "bad s=";
        return std::nullopt;
    }
    // h=: names separated by ":" with optional FWS (§3.5); it must include From (§6.1.1).
    std::string_view hv = h->value;
    bool has_from = false;
    while (true) {
        size_t colon = hv.find(':');
        std::string name = strip_fws(hv.substr(0, colon));
        if (name.empty()) {
            error = "bad h=";
            return std::nullopt;
        }
        if (iequals(name, "from")) has_from = true;
        sig.headers.push_back(to_lower(name));
        if (colon == std::string_view::npos) break;
        hv.remove_prefix(colon + 1);
    }
    if (!has_from) {
        error = "h= does not sign From";
        return std::nullopt;
    }
    if (sig.headers.size() > 1000) {
        error = "bad h=";
        return std::nullopt;
    }
    if (const Tag* i = find_tag(*tags, "i")) {
        auto id = decode_qp(i->value);
        size_t at = id ? id->rfind('@') : std::string::npos;
        if (at == std::string::npos) {
            error = "bad i=";
            return std::nullopt;
        }
        std::string idom = to_lower(id->substr(at + 1));
        // §6.1.1: the i= domain is d= or one of its subdomains.
        bool within = idom == sig.domain ||
                      (idom.size() > sig.domain.size() &&
                       idom.compare(idom.size() - sig.domain.size(), std::string::npos, sig.domain) == 0 &&
                       idom[idom.size() - sig.domain.size() - 1] == '.');
        if (!within) {
            error = "i= not within d=";
            return std::nullopt;
        }
        sig.identity = std::move(*id);
    } else {
        sig.identity = "@" + sig.domain;
    }
    if (const Tag* l = find_tag(*tags, "l")) {
        sig.body_length = parse_decimal(l->value, 18);
        if (!sig.body_length) {
            error = "bad l=";
            return std::nullopt;
        }
    }
    if (const Tag* q = find_tag(*tags, "q")) {
        // A colon-separated list of query methods; dns/txt is the only one defined (§3.5).
        bool dns_txt = colon_list_contains(q->value, "dns/txt");
        if (!dns_txt) {
            error = "unsupported q=";
            return std::nullopt;
        }
    }
    if (const Tag* t = find_tag(*tags, "t")) {
        sig.timestamp = parse_decimal(t->value, 12);
        if (!sig.timestamp) {
            error = "bad t=";
            return std::nullopt;
        }
    }
    if (const Tag* x = find_tag(*tags, "x")) {
        sig.expiration = parse_decimal(x->value, 12);
        if (!sig.expiration) {
            error = "bad x=";
            return std::nullopt;
        }
        if (sig.timestamp && *sig.expiration < *sig.timestamp) {  // §3.5 x=: MUST be greater
            error = "x= before t=";
            return std::nullopt;
        }
    }
    // §3.7: the field is hashed with the b= value deleted (everything else kept as is).
    size_t off = static_cast<size_t>(b->value.data() - field.raw.data());
    sig.raw_without_b.assign(field.raw.substr(0, off));
    sig.raw_without_b.append(field.raw.substr(off + b->value.size()));
    return sig;
}

}  // namespace petrel::mailauth::dkim
