// mailauth/arc/sealer.cpp — see sealer.h. RFC 8617 §5.1.
#include "mailauth/arc/sealer.h"

#include "mailauth/arc/arc_set.h"
#include "mailauth/dkim/hash_input.h"

namespace petrel::mailauth::arc {

namespace {

// "Name: tag=value;\r\n tag=value..." — one tag per line, in the order given. Folded with a
// space, not a TAB: relaxed canonicalization signs both alike, and dkimpy's arc_verify finds a
// set's fields by the text " i=N;" (a TAB before i= makes it fail to find the AMS).
std::string field(std::string_view name, const std::vector<std::string>& tags) {
    std::string out(name);
    out += ':';
    for (size_t k = 0; k < tags.size(); ++k) {
        out += k == 0 ? " " : ";\r\n ";
        out += tags[k];
    }
    return out + "\r\n";
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ":") + n;
    return out;
}

// Inserts the base64 signature after "b=" in a field written with an empty b=.
std::string with_b(std::string field_without_b, const std::string& sig) {
    size_t at = field_without_b.find(" b=");
    if (at == std::string::npos) at = field_without_b.find("\tb=");
    field_without_b.insert(at + 3, dkim::base64_encode(sig));
    return field_without_b;
}

}  // namespace

SealOutcome seal(std::string_view message, const dkim::SigningKey& key, const SealRequest& request) {
    SealOutcome out;
    std::string error;
    auto msg = parse_message(message, error);
    if (!msg) {
        out.error = "header section unreadable: " + error;
        return out;
    }
    Chain chain = collect_chain(*msg, request.max_instances);
    if (!chain.error.empty()) {
        out.error = "existing ARC chain is broken: " + chain.error;
        return out;
    }
    int n = static_cast<int>(chain.sets.size());
    if (request.cv == ChainResult::Fail) {
        out.error = "the chain failed validation: not extended";
        return out;
    }
    if ((request.cv == ChainResult::None) != (n == 0)) {
        out.error = n == 0 ? "cv=pass without an ARC chain" : "cv=none with an ARC chain present";
        return out;
    }
    if (n >= request.max_instances) {
        out.error = "the chain already has " + std::to_string(n) + " ARC sets";
        return out;
    }
    out.instance = n + 1;
    const std::string i = "i=" + std::to_string(out.instance);
    const dkim::Algorithm alg =
        key.type == dkim::KeyType::Ed25519 ? dkim::Algorithm::Ed25519Sha256 : dkim::Algorithm::RsaSha256;
    const std::string a = std::string("a=") + dkim::to_string(alg);
    const std::string t = "t=" + std::to_string(request.now);

    // §5.1.1 step 1: the AAR, then the AMS over the message (relaxed/relaxed).
    std::string aar = "ARC-Authentication-Results: " + i + "; " + request.results + "\r\n";
    std::string bh = dkim::base64_encode(dkim::body_hash(msg->body, dkim::Canon::Relaxed, std::nullopt));
    std::string ams = field("ARC-Message-Signature",
                            {a, "b=", "bh=" + bh, "c=relaxed/relaxed", "d=" + key.domain,
                             "h=" + join(request.headers), i, "s=" + key.selector, t});
    auto ams_sig = dkim::sign_prepared(*msg, ams, request.headers, dkim::Canon::Relaxed, alg, key.key.get());
    if (!ams_sig) {
        out.error = "signing failed with key " + key.selector + "._domainkey." + key.domain;
        return out;
    }
    ams = with_b(std::move(ams), *ams_sig);

    // §5.1.1 step 2: the AS over sets 1..n (as they are) and the new one, relaxed. sign_prepared
    // picks header fields bottom-up, so the sets are listed newest first and named oldest first.
    const char* cv = request.cv == ChainResult::Pass ? "cv=pass" : "cv=none";
    std::string as = field("ARC-Seal", {a, "b=", cv, "d=" + key.domain, i, "s=" + key.selector, t});
    // Parsed so that the new AAR and AMS are fields like the others; the views point into `own`.
    const std::string own = aar + ams + "\r\n";
    auto own_fields = parse_message(own, error);
    if (!own_fields || own_fields->fields.size() != 2) {
        out.error = "bad results text";
        return out;
    }
    ParsedMessage sets;
    std::vector<std::string> names;
    sets.fields.push_back(own_fields->fields[1]);  // AMS i=n+1
    sets.fields.push_back(own_fields->fields[0]);  // AAR i=n+1
    for (size_t k = chain.sets.size(); k-- > 0;) {
        sets.fields.push_back(*chain.sets[k].seal);
        sets.fields.push_back(*chain.sets[k].ams);
        sets.fields.push_back(*chain.sets[k].aar);
    }
    for (int k = 0; k < n; ++k) names.insert(names.end(), {"arc-authentication-results", "arc-message-signature", "arc-seal"});
    names.insert(names.end(), {"arc-authentication-results", "arc-message-signature"});
    auto as_sig = dkim::sign_prepared(sets, as, names, dkim::Canon::Relaxed, alg, key.key.get());
    if (!as_sig) {
        out.error = "signing failed with key " + key.selector + "._domainkey." + key.domain;
        return out;
    }
    out.fields = with_b(std::move(as), *as_sig) + ams + aar;
    return out;
}

}  // namespace petrel::mailauth::arc
