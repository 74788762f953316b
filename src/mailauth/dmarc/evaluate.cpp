// mailauth/dmarc/evaluate.cpp — organizational domain, alignment, policy discovery and the
// DMARC result (see dmarc.h). RFC 7489 §3.1, §3.2, §6.6.2–§6.6.4.
//
// Choices (docs/dmarc.md): several DMARC records at the name that decides, or a record whose
// p= is unusable (§6.6.3 steps 5 and 6.2), give permerror with no policy applied; a temporary
// DNS failure during discovery gives temperror and the caller chooses to fail open or defer.
#include <algorithm>
#include <libpsl.h>
#include <string>
#include <utility>
#include <vector>

#include "mailauth/dmarc/dmarc.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dmarc {

namespace {

// The Public Suffix List, loaded once per process: psl_latest() reads the newer of the
// distribution's file (Debian's publicsuffix package, /usr/share/publicsuffix) and the list
// compiled into libpsl; psl_builtin() when the file is missing or unreadable. The context is
// read-only once loaded, so sharing it between threads is safe; it lives until exit.
const psl_ctx_t* public_suffix_list() {
    static const psl_ctx_t* const ctx = [] {
        const psl_ctx_t* latest = psl_latest(nullptr);
        return latest ? latest : psl_builtin();
    }();
    return ctx;
}

std::string normalize(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return to_lower(name);
}

// The TXT records at a name that are DMARC records (§6.6.3 steps 2 and 4).
std::vector<const std::string*> dmarc_texts(const dns::TxtAnswer& answer) {
    std::vector<const std::string*> out;
    if (answer.status != dns::Status::Ok) return out;
    for (const auto& r : answer.records) {
        if (is_dmarc_record(r.text)) out.push_back(&r.text);
    }
    return out;
}

Policy downgrade(Policy p) {
    switch (p) {
        case Policy::Reject: return Policy::Quarantine;
        case Policy::Quarantine: return Policy::None;
        case Policy::None: return Policy::None;
    }
    return Policy::None;
}

Evaluation temperror(Evaluation ev, std::string_view name, dns::Status status) {
    ev.result = Result::TempError;
    ev.detail = "temporary DNS failure at _dmarc." + std::string(name) + ": " + dns::to_string(status);
    return ev;
}

}  // namespace

const char* to_string(Result r) {
    switch (r) {
        case Result::None: return "none";
        case Result::Pass: return "pass";
        case Result::Fail: return "fail";
        case Result::TempError: return "temperror";
        case Result::PermError: return "permerror";
    }
    return "none";
}

std::string organizational_domain(std::string_view domain) {
    std::string name = normalize(domain);
    if (name.empty()) return name;
    const char* reg = psl_registrable_domain(public_suffix_list(), name.c_str());
    // NULL: the name is itself a public suffix (or not a name libpsl accepts): it is its own
    // organizational domain, so only strict equality aligns with it.
    return reg ? std::string(reg) : name;
}

bool aligned(std::string_view from_domain, std::string_view other, Alignment mode) {
    std::string a = normalize(from_domain), b = normalize(other);
    if (a.empty() || b.empty()) return false;
    if (a == b) return true;
    if (mode == Alignment::Strict) return false;
    return organizational_domain(a) == organizational_domain(b);
}

std::vector<std::string> discovery_names(std::string_view from_domain) {
    std::vector<std::string> names;
    std::string author = normalize(from_domain);
    if (author.empty()) return names;
    std::string org = organizational_domain(author);
    names.push_back(author);
    if (org != author) names.push_back(std::move(org));
    return names;
}

Evaluation evaluate(const Inputs& inputs, const std::vector<Lookup>& lookups, unsigned sample) {
    Evaluation ev;
    ev.header_from = normalize(inputs.from_domain);
    auto names = discovery_names(ev.header_from);
    if (names.empty()) {
        ev.result = Result::PermError;
        ev.detail = "no RFC5322.From domain";
        return ev;
    }
    if (lookups.empty()) return temperror(std::move(ev), names[0], dns::Status::Cancelled);

    // §6.6.3 steps 1–4: the author domain's records, else the organizational domain's.
    const dns::TxtAnswer& first = lookups[0].answer;
    if (dns::is_temporary(first.status)) return temperror(std::move(ev), names[0], first.status);
    auto texts = dmarc_texts(first);
    ev.policy_domain = names[0];
    if (texts.empty()) {
        if (names.size() < 2) {
            ev.policy_domain.clear();
            ev.detail = "no DMARC record";
            return ev;
        }
        if (lookups.size() < 2) return temperror(std::move(ev), names[1], dns::Status::Cancelled);
        const dns::TxtAnswer& second = lookups[1].answer;
        if (dns::is_temporary(second.status)) return temperror(std::move(ev), names[1], second.status);
        texts = dmarc_texts(second);
        ev.policy_domain = names[1];
        if (texts.empty()) {
            ev.policy_domain.clear();
            ev.detail = "no DMARC record";
            return ev;
        }
    }
    // Step 5: several records → no policy.
    if (texts.size() > 1) {
        ev.result = Result::PermError;
        ev.detail = "several DMARC records at _dmarc." + ev.policy_domain;
        return ev;
    }
    std::string error;
    auto record = parse_record(*texts.front(), error);
    if (!record) {  // step 6.2
        ev.result = Result::PermError;
        ev.detail = "unusable DMARC record at _dmarc." + ev.policy_domain + ": " + error;
        return ev;
    }
    // The record of the organizational domain speaks for a subdomain author through sp=.
    bool subdomain = ev.policy_domain != ev.header_from;
    ev.policy = subdomain ? record->subdomain_policy : record->policy;

    // §6.6.2 / §3.1: an authenticated identifier that aligns with the author domain.
    ev.spf_aligned = inputs.spf_pass && aligned(ev.header_from, inputs.spf_domain, record->spf_alignment);
    std::string dkim_domain;
    for (const auto& d : inputs.dkim) {
        if (aligned(ev.header_from, d.domain, record->dkim_alignment)) {
            ev.dkim_aligned = true;
            dkim_domain = normalize(d.domain);
            break;
        }
    }
    if (ev.spf_aligned || ev.dkim_aligned) {
        ev.result = Result::Pass;
        ev.disposition = Policy::None;
        ev.detail = ev.dkim_aligned ? "aligned DKIM pass d=" + dkim_domain
                                    : "aligned SPF pass " + normalize(inputs.spf_domain);
        return ev;
    }

    // §6.6.4: pct= selects the share of failing mail the policy applies to; the rest gets the
    // next less strict one (§6.3 "pct").
    ev.result = Result::Fail;
    unsigned s = std::min(sample, 99u);
    bool sampled = s < record->percent;
    ev.disposition = sampled ? ev.policy : downgrade(ev.policy);
    ev.detail = "no aligned SPF or DKIM pass";
    if (!sampled && ev.disposition != ev.policy) ev.detail += " (pct=" + std::to_string(record->percent) + ": not sampled)";
    if (record->policy_defaulted) ev.detail += " (unusable p= treated as none)";
    return ev;
}

boost::asio::awaitable<Evaluation> evaluate_with_dns(dns::Resolver& resolver, Inputs inputs,
                                                     unsigned sample) {
    std::vector<Lookup> lookups;
    auto names = discovery_names(inputs.from_domain);
    for (size_t i = 0; i < names.size(); ++i) {
        std::string qname = "_dmarc." + names[i];
        auto op = resolver.txt(qname);  // named: g++ 12 and temporaries in co_await
        dns::TxtAnswer answer = co_await std::move(op);
        bool stop = dns::is_temporary(answer.status) || !dmarc_texts(answer).empty();
        lookups.push_back(Lookup{names[i], std::move(answer)});
        if (stop) break;  // §6.6.3: the organizational domain is asked only when needed
    }
    co_return evaluate(inputs, lookups, sample);
}

}  // namespace petrel::mailauth::dmarc
