// policy/relay_policy.cpp — see relay_policy.h.
#include "policy/relay_policy.h"

#include "mail/domain.h"

namespace petrel::policy {

namespace {

smtp::Reply relaying_denied() { return smtp::Reply(550, "5.7.1", "Relaying denied"); }

smtp::Reply auth_required() { return smtp::Reply(530, "5.7.0", "Authentication required"); }

bool is_submission(const mail::SessionFacts& facts) {
    return facts.listener == "submission" || facts.listener == "submissions";
}

// The local-part forms that old MTAs re-interpreted as a route to somewhere else: the percent
// hack (user%other@served), UUCP bang paths (other!user@served), an embedded '@' in a quoted
// local part ("user@other"@served), and a source route that survived parsing (@a:user@b).
bool is_routing_trick(const std::string& local) {
    if (!local.empty() && local.front() == '@') return true;
    for (char c : local) {
        if (c == '%' || c == '!' || c == '@' || c == ':') return true;
    }
    return false;
}

bool is_bare_postmaster(const std::string& local) {
    static const std::string name = "postmaster";
    if (local.size() != name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        char c = local[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != name[i]) return false;
    }
    return true;
}

}  // namespace

RelayPolicy::RelayPolicy(const config::Config& config)
    : sandbox_(config.delivery_mode == config::DeliveryMode::Sandbox) {
    auto host = mail::normalize_domain(config.hostname, false);
    hostname_ = host.ok() ? host.domain : config.hostname;
    served_.insert(config.domains.local.begin(), config.domains.local.end());
    served_.insert(config.domains.relay.begin(), config.domains.relay.end());
}

RelayPolicy::RelayPolicy(const config::Config& config, const LocalRecipients& local)
    : RelayPolicy(config) {
    local_ = &local;
}

bool RelayPolicy::serves(const std::string& domain) const { return served_.count(domain) != 0; }

std::optional<smtp::Reply> RelayPolicy::check_mail(const mail::SessionFacts& facts,
                                                   const std::optional<mail::Mailbox>&) {
    // RFC 6409 §4.3: submission accepts mail only from authenticated clients.
    if (is_submission(facts) && facts.auth_user.empty()) return auth_required();
    return std::nullopt;
}

std::optional<smtp::Reply> RelayPolicy::check_rcpt(const mail::SessionFacts& facts,
                                                   const std::optional<mail::Mailbox>&,
                                                   const mail::Mailbox& rcpt) {
    if (auto refused = check_relay(facts, rcpt)) return refused;
    // Unknown local users are refused now, never bounced later (RFC 3463 X.1.1).
    if (local_ && local_->is_local_domain(rcpt.domain) && !local_->resolve(rcpt.local)) {
        return smtp::Reply(550, "5.1.1", "Recipient address rejected: User unknown");
    }
    return std::nullopt;
}

std::optional<smtp::Reply> RelayPolicy::check_relay(const mail::SessionFacts& facts,
                                                    const mail::Mailbox& rcpt) const {
    // RFC 5321 §3.9, §7.1: an authenticated client may relay anywhere.
    if (!facts.auth_user.empty()) return std::nullopt;
    if (is_submission(facts)) return auth_required();
    if (rcpt.is_address_literal()) return relaying_denied();
    if (is_routing_trick(rcpt.local)) return relaying_denied();
    // The session rewrites "<Postmaster>" to postmaster@<hostname> (RFC 5321 §4.1.1.3); this
    // server's own postmaster is always served, whatever the domain lists say (§4.5.1).
    if (is_bare_postmaster(rcpt.local) && rcpt.domain == hostname_) return std::nullopt;
    if (rcpt.domain.empty()) {
        // RFC 5321 §4.5.1: "RCPT TO:<Postmaster>" (no domain) must be accepted.
        return is_bare_postmaster(rcpt.local) ? std::nullopt
                                              : std::optional<smtp::Reply>(relaying_denied());
    }
    if (serves(rcpt.domain)) return std::nullopt;
    // Sandbox captures everything and delivers nothing: accepting any domain relays nothing.
    if (sandbox_) return std::nullopt;
    return relaying_denied();
}

}  // namespace petrel::policy
