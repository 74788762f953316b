// mailauth/inbound_check.cpp — SPF, DKIM, DMARC and ARC on one inbound message, and the
// resinfo list for Authentication-Results (inbound_check.h).
#include "mailauth/inbound_check.h"

#include <arpa/inet.h>

#include <optional>
#include <utility>

#include "mailauth/arc/verifier.h"
#include "mailauth/dkim/dns_verify.h"
#include "mailauth/dmarc/dmarc.h"
#include "mailauth/spf/resolver_check.h"

namespace petrel::mailauth {

namespace {

std::optional<dns::IpAddress> parse_ip(const std::string& text) {
    uint8_t b[16];
    if (inet_pton(AF_INET, text.c_str(), b) == 1) return dns::IpAddress::v4_from(b);
    if (inet_pton(AF_INET6, text.c_str(), b) == 1) return dns::IpAddress::v6_from(b);
    return std::nullopt;
}

// RFC 6008 §4: header.b carries enough of b= to tell signatures of one d= apart; 8 octets.
std::string b_prefix(const std::string& b) { return b.substr(0, 8); }

}  // namespace

std::string InboundVerdict::summary() const {
    std::string s = "spf=" + std::string(spf::to_string(spf.result)) + " dkim=";
    if (dkim.results.empty()) s += dkim.message_ok ? "none" : "permerror";
    for (size_t i = 0; i < dkim.results.size(); ++i) {
        if (i) s += ',';
        s += dkim::to_string(dkim.results[i].result);
    }
    s += " dmarc=" + dmarc_result + " arc=" + arc_result;
    return s;
}

std::vector<ResultInfo> describe(const InboundFacts& facts, const InboundVerdict& v) {
    std::vector<ResultInfo> out;

    // RFC 8601 §2.7.2: spf with smtp.mailfrom; RFC 7208 §2.4: for <> the identity checked is
    // postmaster@HELO, and smtp.helo says which HELO that was.
    ResultInfo spf{"spf", spf::to_string(v.spf.result), "", "", {{"smtp.mailfrom", v.spf_identity}}};
    if (v.spf.result != spf::Result::Pass && !v.spf.reason.empty()) spf.reason = v.spf.reason;
    if (facts.mail_from.empty()) spf.properties.push_back({"smtp.helo", facts.helo});
    out.push_back(std::move(spf));

    // RFC 8601 §2.7.1: one dkim resinfo per signature; none when there is no signature.
    if (!v.dkim.message_ok) {
        out.push_back({"dkim", "permerror", "", v.dkim.error, {}});
    } else if (v.dkim.results.empty()) {
        out.push_back({"dkim", "none", "", "", {}});
    }
    for (const dkim::SignatureResult& s : v.dkim.results) {
        ResultInfo r{"dkim", dkim::to_string(s.result), "", "", {}};
        if (s.result != dkim::Result::Pass) {
            r.reason = s.detail.empty() ? std::string(dkim::to_string(s.reason)) : s.detail;
        }
        if (s.testing) r.comment = "key in test mode";
        if (!s.domain.empty()) r.properties.push_back({"header.d", s.domain});
        if (!s.selector.empty()) r.properties.push_back({"header.s", s.selector});
        if (!s.b.empty()) r.properties.push_back({"header.b", b_prefix(s.b)});
        out.push_back(std::move(r));
    }

    // RFC 7489 §11.2: dmarc with header.from; the policy goes in a comment, as widely done.
    ResultInfo dmarc{"dmarc", v.dmarc_result, "", "", {}};
    if (!v.dmarc_policy.empty()) {
        const char* dis = v.disposition == Disposition::Reject       ? "reject"
                          : v.disposition == Disposition::Quarantine ? "quarantine"
                                                                     : "none";
        dmarc.comment = "p=" + v.dmarc_policy + " dis=" + dis;
    }
    if (v.dmarc_result != "pass" && v.dmarc_result != "none" && !v.dmarc_detail.empty()) {
        dmarc.reason = v.dmarc_detail;
    }
    if (!v.header_from.empty()) dmarc.properties.push_back({"header.from", v.header_from});
    out.push_back(std::move(dmarc));

    // RFC 8617 §10.2: arc; the chain length in a comment, the failure as the reason.
    ResultInfo arc{"arc", v.arc_result, "", "", {}};
    if (v.arc_instances > 0) arc.comment = "i=" + std::to_string(v.arc_instances);
    if (v.arc_result == "fail" && !v.arc_detail.empty()) arc.reason = v.arc_detail;
    out.push_back(std::move(arc));
    return out;
}

boost::asio::awaitable<InboundVerdict> check_inbound(dns::Resolver& resolver, InboundFacts facts,
                                                     std::string message, InboundOptions options) {
    InboundVerdict v;

    // SPF (RFC 7208 §2.4): MAIL FROM, or postmaster@HELO for the null reverse-path.
    v.spf_identity = facts.mail_from.empty() ? "postmaster@" + facts.helo : facts.mail_from;
    if (auto ip = parse_ip(facts.client_ip)) {
        spf::Request request{*ip, facts.mail_from, facts.helo, facts.receiver, facts.now};
        auto op = spf::check_mail_from(resolver, std::move(request));  // named: g++ 12
        v.spf = co_await std::move(op);
    } else {
        v.spf.result = spf::Result::None;  // not an IP connection (cannot happen on TCP)
        v.spf.reason = "no client address";
    }

    // DKIM (RFC 6376 §6): every signature, keys through the resolver.
    dkim::VerifyOptions dkim_options;
    dkim_options.now = static_cast<uint64_t>(facts.now);
    {
        auto op = dkim::verify_with_dns(resolver, message, dkim_options);
        v.dkim = co_await std::move(op);
    }

    // DMARC (RFC 7489 §6.6): the author domain, then policy discovery and alignment with
    // the SPF domain and every passing signature's d=.
    dmarc::AuthorDomain author = dmarc::author_domain(message);
    v.header_from = author.domain;
    if (!author.error.empty()) {
        // §6.6.1: no single author domain to check. Recorded, never acted on.
        v.dmarc_result = "permerror";
        v.dmarc_detail = author.error;
    } else {
        dmarc::Inputs inputs;
        inputs.from_domain = author.domain;
        inputs.spf_pass = v.spf.result == spf::Result::Pass;
        inputs.spf_domain = v.spf.domain;
        for (const dkim::SignatureResult& s : v.dkim.results) {
            if (s.result == dkim::Result::Pass) inputs.dkim.push_back({s.domain});
        }
        auto op = dmarc::evaluate_with_dns(resolver, std::move(inputs), options.dmarc_sample);
        dmarc::Evaluation e = co_await std::move(op);
        v.dmarc_result = dmarc::to_string(e.result);
        v.dmarc_detail = e.detail;
        if (e.result != dmarc::Result::None) v.dmarc_policy = dmarc::to_string(e.policy);
        if (e.result == dmarc::Result::Fail) {
            v.disposition = e.disposition == dmarc::Policy::Reject       ? Disposition::Reject
                            : e.disposition == dmarc::Policy::Quarantine ? Disposition::Quarantine
                                                                         : Disposition::None;
        }
    }

    // ARC (RFC 8617 §5.2): the chain's validation status, recorded only (no local policy
    // overrides DMARC with it yet).
    {
        arc::VerifyOptions arc_options;
        arc_options.now = static_cast<uint64_t>(facts.now);
        auto op = arc::verify_with_dns(resolver, message, arc_options);
        arc::ChainReport chain = co_await std::move(op);
        v.arc_result = arc::to_string(chain.result);
        v.arc_instances = chain.instances;
        v.arc_detail = chain.detail;
    }

    v.results = describe(facts, v);
    v.header = build_authentication_results(options.authserv_id, v.results);
    co_return v;
}

}  // namespace petrel::mailauth
