// mailauth/arc/arc_set.cpp — see arc_set.h. RFC 8617 §4.1, §4.2.1, §4.4, §5.2 steps 1–3.
#include "mailauth/arc/arc_set.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace petrel::mailauth::arc {

namespace {

enum Kind { Aar = 0, Ams = 1, As = 2 };
constexpr const char* k_names[] = {"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"};

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// §4.2.1: "i=" is 1*2DIGIT with a value from 1 to 50 (the upper bound is the caller's).
std::optional<int> parse_instance(std::string_view s) {
    if (s.empty() || s.size() > 2) return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 1) return std::nullopt;
    return v;
}

std::optional<uint64_t> parse_time(std::string_view s) {
    // RFC 6376 §3.5 t=/x=: at most 12 digits here (40 bits are required, more is not a time).
    if (s.empty() || s.size() > 12) return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Parses the tag list of an ARC-Seal or ARC-Message-Signature and the tags both share (i, a,
// b, d, s, t) into `c`; the tags, for the caller's own, or nullopt with `error`.
std::optional<std::vector<Tag>> parse_signed(const HeaderField& field, SignedField& c, std::string& error) {
    auto parsed = parse_tag_list(field.value);
    if (!parsed) {
        error = "syntax";
        return std::nullopt;
    }
    const std::vector<Tag>& tags = *parsed;
    for (const char* name : {"i", "a", "b", "d", "s"}) {
        if (!find_tag(tags, name)) {
            error = std::string("missing tag ") + name + "=";
            return std::nullopt;
        }
    }
    auto inst = parse_instance(find_tag(tags, "i")->value);
    if (!inst) {
        error = "bad i=";
        return std::nullopt;
    }
    c.instance = *inst;
    std::string_view a = find_tag(tags, "a")->value;
    // RFC 8617 §4.1.2/§4.1.3 take a= from DKIM; rsa-sha1 is refused as DKIM refuses it
    // (RFC 8301 §3.1), Ed25519 accepted as DKIM accepts it (RFC 8463).
    if (a == "rsa-sha256") c.algorithm = dkim::Algorithm::RsaSha256;
    else if (a == "ed25519-sha256") c.algorithm = dkim::Algorithm::Ed25519Sha256;
    else {
        error = a == "rsa-sha1" ? "rsa-sha1 is not acceptable (RFC 8301)" : "unsupported algorithm";
        return std::nullopt;
    }
    const Tag* b = find_tag(tags, "b");
    auto bv = dkim::base64_decode(b->value);
    if (!bv || bv->empty()) {
        error = "bad b=";
        return std::nullopt;
    }
    c.signature = std::move(*bv);
    c.domain = to_lower(find_tag(tags, "d")->value);
    c.selector = to_lower(find_tag(tags, "s")->value);
    if (!dkim::is_dns_name(c.domain) || !dkim::is_dns_name(c.selector)) {
        error = !dkim::is_dns_name(c.domain) ? "bad d=" : "bad s=";
        return std::nullopt;
    }
    if (const Tag* t = find_tag(tags, "t"); t && !parse_time(t->value)) {
        error = "bad t=";
        return std::nullopt;
    }
    // RFC 6376 §3.7 (by reference): the field is hashed with the b= value deleted.
    size_t off = static_cast<size_t>(b->value.data() - field.raw.data());
    c.raw_without_b.assign(field.raw.substr(0, off));
    c.raw_without_b.append(field.raw.substr(off + b->value.size()));
    return parsed;
}

int kind_of(std::string_view name) {
    for (int k = 0; k < 3; ++k) {
        if (iequals(name, k_names[k])) return k;
    }
    return -1;
}

}  // namespace

std::optional<int> aar_instance(std::string_view value) {
    // §4.1.1: arc-info = instance [CFWS] ";" authres-payload; instance = [CFWS] "i" [CFWS] "="
    // [CFWS] 1*2DIGIT. Comments are not accepted here: no sealer writes them before i=.
    size_t p = 0;
    auto skip = [&] {
        while (p < value.size() && is_fws(value[p])) ++p;
    };
    skip();
    if (p >= value.size() || value[p] != 'i') return std::nullopt;
    ++p;
    skip();
    if (p >= value.size() || value[p] != '=') return std::nullopt;
    ++p;
    skip();
    size_t start = p;
    while (p < value.size() && value[p] >= '0' && value[p] <= '9') ++p;
    auto inst = parse_instance(value.substr(start, p - start));
    skip();
    if (!inst || p >= value.size() || value[p] != ';') return std::nullopt;
    return inst;
}

std::optional<Seal> parse_seal(const HeaderField& field, std::string& error) {
    Seal s;
    auto tags = parse_signed(field, s, error);
    if (!tags) return std::nullopt;
    // §4.1.3: the seal covers ARC fields only; an h= would claim otherwise.
    if (find_tag(*tags, "h")) {
        error = "h= is not allowed in ARC-Seal";
        return std::nullopt;
    }
    const Tag* cv = find_tag(*tags, "cv");
    if (!cv) {
        error = "missing tag cv=";
        return std::nullopt;
    }
    if (cv->value == "none") s.cv = Cv::None;
    else if (cv->value == "pass") s.cv = Cv::Pass;
    else if (cv->value == "fail") s.cv = Cv::Fail;
    else {
        error = "bad cv=";
        return std::nullopt;
    }
    return s;
}

std::optional<MessageSignature> parse_message_signature(const HeaderField& field, std::string& error) {
    MessageSignature m;
    auto tags = parse_signed(field, m, error);
    if (!tags) return std::nullopt;
    const Tag* bh = find_tag(*tags, "bh");
    const Tag* h = find_tag(*tags, "h");
    if (!bh || !h) {
        error = !bh ? "missing tag bh=" : "missing tag h=";
        return std::nullopt;
    }
    auto bhv = dkim::base64_decode(bh->value);
    if (!bhv || bhv->size() != 32) {  // SHA-256 is the only hash ARC signs with
        error = "bad bh=";
        return std::nullopt;
    }
    m.body_hash = std::move(*bhv);
    if (const Tag* c = find_tag(*tags, "c")) {
        std::string_view cv = c->value;
        size_t slash = cv.find('/');
        bool ok = dkim::parse_canon(cv.substr(0, slash), m.header_canon);
        if (ok && slash != std::string_view::npos) ok = dkim::parse_canon(cv.substr(slash + 1), m.body_canon);
        if (!ok) {
            error = "bad c=";
            return std::nullopt;
        }
    }
    // h=: colon-separated names (RFC 6376 §3.5). Unlike DKIM, ARC does not require From, and
    // an empty h= (or an empty element) signs no header field: the suite passes both.
    std::string_view hv = h->value;
    for (size_t elements = 1;; ++elements) {
        size_t colon = hv.find(':');
        std::string name = to_lower(strip_fws(hv.substr(0, colon)));
        // RFC 8617 §4.1.2: ARC-Seal fields are never signed by an AMS (the seal signs the AMS).
        if (name == "arc-seal") {
            error = "h= signs ARC-Seal";
            return std::nullopt;
        }
        if (elements > 1000) {
            error = "bad h=";
            return std::nullopt;
        }
        if (!name.empty()) m.headers.push_back(std::move(name));
        if (colon == std::string_view::npos) break;
        hv.remove_prefix(colon + 1);
    }
    // l= would leave part of the body unsigned: what a later hop appends would still "pass"
    // (RFC 6376 §8.2). ARC only ever adds trust, so a partial-body AMS is refused.
    if (find_tag(*tags, "l")) {
        error = "l= is not accepted in ARC-Message-Signature";
        return std::nullopt;
    }
    if (const Tag* x = find_tag(*tags, "x")) {
        m.expiration = parse_time(x->value);
        if (!m.expiration) {
            error = "bad x=";
            return std::nullopt;
        }
    }
    return m;
}

Chain collect_chain(const ParsedMessage& msg, int max_instances) {
    Chain chain;
    std::vector<std::array<const HeaderField*, 3>> slots;
    int highest = 0;
    for (const HeaderField& f : msg.fields) {
        int kind = kind_of(f.name);
        if (kind < 0) continue;
        chain.present = true;
        if (!chain.error.empty()) continue;  // keep scanning only to set `present`
        std::optional<int> inst;
        if (kind == Aar) {
            inst = aar_instance(f.value);
        } else if (auto tags = parse_tag_list(f.value)) {
            if (const Tag* i = find_tag(*tags, "i")) inst = parse_instance(i->value);
        }
        if (!inst) {
            chain.error = std::string(k_names[kind]) + " without a valid i=";
            continue;
        }
        if (*inst > max_instances) {
            chain.error = "more than " + std::to_string(max_instances) + " ARC sets";
            continue;
        }
        if (static_cast<int>(slots.size()) < *inst) slots.resize(static_cast<size_t>(*inst));
        const HeaderField*& slot = slots[static_cast<size_t>(*inst - 1)][kind];
        if (slot) {
            chain.error = std::string("two ") + k_names[kind] + " with i=" + std::to_string(*inst);
            continue;
        }
        slot = &f;
        highest = std::max(highest, *inst);
    }
    if (!chain.present || !chain.error.empty()) return chain;
    for (int i = 1; i <= highest; ++i) {
        const auto& s = slots[static_cast<size_t>(i - 1)];
        for (int kind = 0; kind < 3; ++kind) {
            if (!s[kind]) {
                chain.error = std::string("no ") + k_names[kind] + " with i=" + std::to_string(i);
                return chain;
            }
        }
        chain.sets.push_back({i, s[Aar], s[Ams], s[As]});
    }
    for (const ArcSet& set : chain.sets) {
        std::string error;
        auto seal = parse_seal(*set.seal, error);
        if (!seal) {
            chain.error = "ARC-Seal i=" + std::to_string(set.instance) + ": " + error;
            return chain;
        }
        chain.seals.push_back(std::move(*seal));
    }
    // §5.2 step 2: the newest seal already says the chain failed.
    if (chain.seals.back().cv == Cv::Fail) {
        chain.error = "ARC-Seal i=" + std::to_string(highest) + " says cv=fail";
        return chain;
    }
    // §4.1.3 / §5.2 step 3: the first set has nothing to validate, every later one passed.
    for (const Seal& s : chain.seals) {
        Cv want = s.instance == 1 ? Cv::None : Cv::Pass;
        if (s.cv != want) {
            chain.error = "ARC-Seal i=" + std::to_string(s.instance) + " has cv=" +
                          (s.cv == Cv::None ? "none" : s.cv == Cv::Pass ? "pass" : "fail");
            return chain;
        }
    }
    return chain;
}

}  // namespace petrel::mailauth::arc
