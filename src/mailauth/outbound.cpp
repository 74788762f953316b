// mailauth/outbound.cpp — see outbound.h. RFC 8617 §5.1, RFC 8601 §2.2, RFC 6376 §5.
#include "mailauth/outbound.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "mailauth/arc/sealer.h"
#include "mailauth/auth_results.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth {

namespace {

constexpr size_t kMaxAmsNames = 200;  // h= entries of an AMS (a hostile header section is long)

std::string_view header_section(std::string_view message) {
    const size_t end = message.find("\r\n\r\n");
    return end == std::string_view::npos ? message : message.substr(0, end + 4);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The AMS h= list: each instance present of DKIM's default fields, plus the DKIM-Signature
// fields (this hop's and earlier ones), as Google and OpenARC sign them. Never ARC-Seal
// (RFC 8617 §4.1.2) nor Authentication-Results (a later hop may remove its own).
std::vector<std::string> ams_headers(const ParsedMessage& msg) {
    std::set<std::string> wanted(dkim::default_signed_headers().begin(), dkim::default_signed_headers().end());
    wanted.insert("dkim-signature");
    std::vector<std::string> names;
    for (const HeaderField& f : msg.fields) {
        std::string n = to_lower(f.name);
        if (wanted.count(n) && names.size() < kMaxAmsNames) names.push_back(std::move(n));
    }
    return names;
}

std::optional<dkim::SigningKey> load_seal_key(const config::Config& cfg, KeyLoadReport& report) {
    const config::Authentication& a = cfg.authentication;
    if (!a.arc_seal) return std::nullopt;
    const std::string name = a.arc_seal_selector + "._domainkey." + a.arc_seal_domain;
    std::optional<dkim::StoredKey> chosen;
    for (const dkim::StoredKey& k : dkim::list_keys(cfg.data_dir, a.arc_seal_domain)) {
        if (k.selector != a.arc_seal_selector) continue;
        // RSA first: receivers that verify ARC all know RSA; Ed25519 seals (RFC 8463) fewer.
        if (!chosen || k.type == dkim::KeyType::Rsa) chosen = k;
    }
    if (!chosen) {
        report.warnings.push_back("arc: no key for " + name + " (petrel dkim keygen " + a.arc_seal_domain +
                                  " " + a.arc_seal_selector + "): forwarded mail is not sealed");
        return std::nullopt;
    }
    std::string error;
    dkim::PKey key = dkim::load_private_key(chosen->path, error);
    if (!key) {
        report.errors.push_back("arc: " + error);
        return std::nullopt;
    }
    report.notes.push_back("arc: sealing forwarded mail with " + name + " (" + dkim::to_string(chosen->type) + ")");
    return dkim::SigningKey{chosen->domain, chosen->selector, chosen->type, key, chosen->path};
}

}  // namespace

std::shared_ptr<const OutboundKeys> load_outbound_keys(const config::Config& cfg, KeyLoadReport& report) {
    auto keys = std::make_shared<OutboundKeys>();
    keys->dkim = dkim::load_signing_keys(cfg.data_dir, cfg.dkim);
    for (const auto& e : keys->dkim.errors) report.errors.push_back("dkim: " + e);
    for (const auto& w : keys->dkim.warnings) report.warnings.push_back("dkim: " + w);
    for (const auto& d : keys->dkim.domains) {
        report.notes.push_back("dkim: signing for " + d.domain + " (" + std::to_string(d.keys.size()) + " key(s))");
    }
    keys->seal = load_seal_key(cfg, report);
    return keys;
}

std::string arc_result_of(std::string_view v) {
    // Split at the top-level ';' (RFC 8601 §2.2), dropping quoted-strings and comments, whose
    // text is the sender's (a quoted "; arc=pass" must not count).
    std::vector<std::string> parts(1);
    int depth = 0;
    bool quoted = false;
    for (size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        if (quoted || depth > 0) {
            if (c == '\\') ++i;
            else if (quoted && c == '"') quoted = false;
            else if (!quoted && c == '(') ++depth;
            else if (!quoted && c == ')') --depth;
            continue;
        }
        if (c == '"') quoted = true;
        else if (c == '(') depth = 1;
        else if (c == ';') parts.emplace_back();
        else parts.back() += c;
    }
    for (size_t k = 1; k < parts.size(); ++k) {  // parts[0]: the authserv-id
        std::string_view p = parts[k];
        while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
        if (p.size() < 3 || to_lower(p.substr(0, 3)) != "arc") continue;
        p.remove_prefix(3);
        while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
        if (p.empty() || p.front() != '=') continue;
        p.remove_prefix(1);
        while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
        size_t n = 0;
        while (n < p.size() && std::isalpha(static_cast<unsigned char>(p[n]))) ++n;
        return to_lower(p.substr(0, n));
    }
    return {};
}

std::optional<std::string> own_results(std::string_view section, std::string_view authserv_id) {
    std::string error;
    auto msg = parse_message(header_section(section), error);
    if (!msg) return std::nullopt;
    for (const HeaderField& f : msg->fields) {
        if (!iequals(f.name, "authentication-results")) continue;
        if (!iequals(authserv_id_of(f.value), authserv_id)) continue;
        std::string_view v = f.value;
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        return std::string(v);
    }
    return std::nullopt;
}

OutboundAuth::OutboundAuth(const config::Config& cfg, KeyLoadReport& report)
    : cfg_(cfg), keys_(load_outbound_keys(cfg, report)) {}

bool OutboundAuth::reload(KeyLoadReport& report) {
    auto fresh = load_outbound_keys(cfg_, report);
    if (!report.errors.empty()) return false;  // a half-read key set would sign with too few keys
    std::lock_guard<std::mutex> lock(mutex_);
    keys_ = std::move(fresh);
    return true;
}

std::shared_ptr<const OutboundKeys> OutboundAuth::snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return keys_;
}

bool OutboundAuth::active() const {
    auto keys = snapshot();
    return !keys->dkim.domains.empty() || (keys->seal && cfg_.authentication.arc_seal);
}

std::string OutboundAuth::authserv_id() const {
    return cfg_.authentication.authserv_id.empty() ? cfg_.hostname : cfg_.authentication.authserv_id;
}

// Only mail that came in on an mx listener without AUTH: there server/ removed every field
// claiming petrel's authserv-id before adding its own (RFC 8601 §5), so the one found is ours.
bool OutboundAuth::should_seal(const mail::Envelope& envelope) const {
    return cfg_.authentication.arc_seal && envelope.facts.listener == "mx" && envelope.facts.auth_user.empty();
}

bool OutboundAuth::has_work(std::string_view section, const mail::Envelope& envelope) const {
    auto keys = snapshot();
    section = header_section(section);
    if (keys->dkim.find(dkim::from_domain(section))) return true;
    return keys->seal && should_seal(envelope) && own_results(section, authserv_id()).has_value();
}

Prepared OutboundAuth::prepare(std::string_view message, const mail::Envelope& envelope, uint64_t now) const {
    auto keys = snapshot();
    Prepared out;
    dkim::SignOutcome signed_out = dkim::sign_outbound(keys->dkim, message, now);
    if (!signed_out.ok()) {  // sent unsigned: a receiver treats it as mail without a signature
        out.warnings.push_back("not DKIM-signed: " + signed_out.error);
    } else if (!signed_out.header.empty()) {
        out.fields = std::move(signed_out.header);
        out.dkim_domain = dkim::from_domain(message);
    }
    if (!keys->seal || !should_seal(envelope)) return out;
    auto results = own_results(message, authserv_id());
    if (!results) return out;  // not checked on the way in ([authentication] enabled = false)
    const std::string arc = arc_result_of(*results);
    arc::SealRequest request;
    if (arc == "none") request.cv = arc::ChainResult::None;
    else if (arc == "pass") request.cv = arc::ChainResult::Pass;
    else {  // fail: petrel does not extend a failed chain (arc/sealer.h); anything else: unknown
        out.warnings.push_back("not ARC-sealed: the chain was arc=" + (arc.empty() ? std::string("?") : arc) +
                               " on arrival");
        return out;
    }
    // DKIM first, the ARC set on top: the AMS signs the message as it leaves, DKIM-Signature
    // included (docs/arc.md).
    const std::string whole = out.fields + std::string(message);
    std::string error;
    auto parsed = parse_message(header_section(whole), error);
    if (!parsed) {
        out.warnings.push_back("not ARC-sealed: " + error);
        return out;
    }
    request.results = *results;
    request.headers = ams_headers(*parsed);
    request.now = now;
    arc::SealOutcome sealed = arc::seal(whole, *keys->seal, request);
    if (!sealed.ok()) {
        out.warnings.push_back("not ARC-sealed: " + sealed.error);
        return out;
    }
    out.fields = sealed.fields + out.fields;
    out.arc_instance = sealed.instance;
    return out;
}

}  // namespace petrel::mailauth
