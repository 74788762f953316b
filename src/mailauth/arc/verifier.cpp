// mailauth/arc/verifier.cpp — see verifier.h. RFC 8617 §5.1.1, §5.2; RFC 6376 §3.7, §6.1.2–3.
#include "mailauth/arc/verifier.h"

#include "mailauth/arc/arc_set.h"
#include "mailauth/dkim/hash_input.h"
#include "mailauth/dkim/key_record.h"
#include "mailauth/key_prefetch.h"

namespace petrel::mailauth::arc {

namespace {

std::string key_name(const std::string& selector, const std::string& domain) {
    return selector + "._domainkey." + domain;
}

// Checks `signature` over `data` with the key at selector._domainkey.domain (RFC 6376
// §6.1.2: every record that parses and fits the algorithm is tried; revoked keys never
// verify; RFC 8301 key sizes are enforced by parse_key_record). False with `error` set.
bool check_with_key(const dkim::KeyFetcher& fetch, const std::string& selector, const std::string& domain,
                    dkim::Algorithm alg, std::string_view data, std::string_view signature,
                    std::string& error, bool& temporary) {
    dkim::KeyLookup lookup = fetch(key_name(selector, domain));
    if (lookup.status != dns::Status::Ok || lookup.records.empty()) {
        temporary = temporary || dns::is_temporary(lookup.status);
        error = dns::is_temporary(lookup.status) ? std::string("key lookup: ") + dns::to_string(lookup.status)
                                                 : "no key";
        return false;
    }
    error = "no usable key";
    for (const std::string& txt : lookup.records) {
        std::string e;
        auto rec = dkim::parse_key_record(txt, e);
        if (!rec) {
            error = "key: " + e;
            continue;
        }
        bool fits = (rec->type == dkim::KeyType::Ed25519) == (alg == dkim::Algorithm::Ed25519Sha256);
        if (rec->revoked || !fits || !rec->allows_sha256) {
            error = rec->revoked ? "key revoked" : "key does not fit a=";
            continue;
        }
        if (dkim::check_signature(alg, rec->key.get(), data, signature)) return true;
        error = "signature did not verify";
    }
    return false;
}

// §5.2 step 4/5: one ARC-Message-Signature, checked as a DKIM signature of the message.
bool check_ams(const ParsedMessage& msg, const HeaderField& field, const dkim::KeyFetcher& fetch,
               const VerifyOptions& options, std::string& error, bool& temporary) {
    auto ams = parse_message_signature(field, error);
    if (!ams) return false;
    if (ams->expiration && options.now != 0 && *ams->expiration < options.now) {
        error = "expired (x=)";
        return false;
    }
    if (dkim::body_hash(msg.body, ams->body_canon, std::nullopt) != ams->body_hash) {
        error = "body hash did not verify";
        return false;
    }
    std::string data = dkim::header_hash_input(msg.fields, ams->headers, ams->header_canon, ams->raw_without_b);
    return check_with_key(fetch, ams->selector, ams->domain, ams->algorithm, data, ams->signature, error,
                          temporary);
}

// §5.1.1: what ARC-Seal i=k signs: the ARC sets 1..k in increasing order, each as AAR, AMS,
// AS, relaxed; the seal being checked last, with b= empty and without its final CRLF.
std::string seal_input(const Chain& chain, size_t k) {
    std::string data;
    for (size_t j = 0; j <= k; ++j) {
        const ArcSet& set = chain.sets[j];
        data += dkim::canonicalize_header(*set.aar, dkim::Canon::Relaxed);
        data += dkim::canonicalize_header(*set.ams, dkim::Canon::Relaxed);
        if (j < k) data += dkim::canonicalize_header(*set.seal, dkim::Canon::Relaxed);
    }
    data += dkim::header_hash_input({}, {}, dkim::Canon::Relaxed, chain.seals[k].raw_without_b);
    return data;
}

ChainReport fail(ChainReport r, std::string detail) {
    r.result = ChainResult::Fail;
    r.detail = std::move(detail);
    return r;
}

}  // namespace

const char* to_string(ChainResult r) {
    switch (r) {
        case ChainResult::None: return "none";
        case ChainResult::Pass: return "pass";
        case ChainResult::Fail: return "fail";
    }
    return "?";
}

ChainReport verify(std::string_view message, const dkim::KeyFetcher& fetch, const VerifyOptions& options) {
    ChainReport r;
    std::string error;
    auto msg = parse_message(message, error, options.header_limits);
    if (!msg) {
        // Without a readable header section there is no chain to speak of (§5.2 step 1).
        r.detail = "header section unreadable: " + error;
        return r;
    }
    Chain chain = collect_chain(*msg, options.max_instances);
    if (!chain.present) return r;
    r.instances = static_cast<int>(chain.sets.size());
    for (const ArcSet& set : chain.sets) {
        auto ams = parse_message_signature(*set.ams, error);
        r.ams_domains.push_back(ams ? ams->domain : "");
    }
    if (!chain.error.empty()) return fail(std::move(r), chain.error);

    // Step 4: the newest AMS must verify.
    const size_t newest = chain.sets.size() - 1;
    if (!check_ams(*msg, *chain.sets[newest].ams, fetch, options, error, r.temporary)) {
        return fail(std::move(r), "ARC-Message-Signature i=" + std::to_string(newest + 1) + ": " + error);
    }
    // Step 6: every seal, newest first.
    for (size_t k = chain.sets.size(); k-- > 0;) {
        const Seal& seal = chain.seals[k];
        std::string data = seal_input(chain, k);
        if (!check_with_key(fetch, seal.selector, seal.domain, seal.algorithm, data, seal.signature, error,
                            r.temporary)) {
            return fail(std::move(r), "ARC-Seal i=" + std::to_string(k + 1) + ": " + error);
        }
    }
    // Step 5: oldest-pass, the lowest instance from which every AMS up to the newest still
    // verifies; 0 when all of them do (the message is unchanged since the first hop).
    r.oldest_pass = 0;
    for (size_t k = newest; k-- > 0;) {
        bool ignored = false;  // an older AMS only informs oldest-pass, never fails the chain
        if (!check_ams(*msg, *chain.sets[k].ams, fetch, options, error, ignored)) {
            r.oldest_pass = static_cast<int>(k) + 2;
            break;
        }
    }
    r.result = ChainResult::Pass;
    return r;
}

std::vector<std::string> key_names(std::string_view message, const VerifyOptions& options) {
    std::vector<std::string> names;
    std::string error;
    auto msg = parse_message(message, error, options.header_limits);
    if (!msg) return names;
    Chain chain = collect_chain(*msg, options.max_instances);
    if (!chain.present || !chain.error.empty()) return names;  // fails before any key is used
    auto add = [&](std::string n) {
        for (const auto& x : names) {
            if (x == n) return;
        }
        names.push_back(std::move(n));
    };
    for (size_t k = chain.sets.size(); k-- > 0;) {
        if (auto ams = parse_message_signature(*chain.sets[k].ams, error)) add(key_name(ams->selector, ams->domain));
        add(key_name(chain.seals[k].selector, chain.seals[k].domain));
    }
    return names;
}

boost::asio::awaitable<ChainReport> verify_with_dns(dns::Resolver& resolver, std::string message,
                                                    VerifyOptions options) {
    std::vector<std::string> names = key_names(message, options);
    auto op = prefetch_keys(resolver, std::move(names));
    PrefetchedKeys keys = co_await std::move(op);
    dkim::KeyFetcher fetch = keys.fetcher();
    co_return verify(message, fetch, options);
}

}  // namespace petrel::mailauth::arc
