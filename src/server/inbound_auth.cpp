// server/inbound_auth.cpp — see inbound_auth.h.
#include "server/inbound_auth.h"

#include <ctime>
#include <random>
#include <utility>

#include "mailauth/auth_results.h"
#include "mailauth/inbound_check.h"

namespace petrel::server {

namespace {

// RFC 7489 §6.6.4: pct= applies the policy to a random share of failing mail.
unsigned dmarc_sample() {
    thread_local std::mt19937 rng{std::random_device{}()};
    return std::uniform_int_distribution<unsigned>(0, 99)(rng);
}

}  // namespace

namespace {
const std::string& our_authserv_id(const config::Config& cfg) {
    return cfg.authentication.authserv_id.empty() ? cfg.hostname : cfg.authentication.authserv_id;
}
}  // namespace

size_t remove_forged_authentication_results(const config::Config& cfg, std::string& message) {
    return mailauth::remove_forged_results(message, our_authserv_id(cfg));
}

boost::asio::awaitable<InboundAuthOutcome> check_inbound_message(dns::Resolver& resolver,
                                                                 const config::Config& cfg,
                                                                 const mail::Envelope& envelope,
                                                                 std::string& message) {
    const config::Authentication& a = cfg.authentication;
    const std::string& authserv_id = our_authserv_id(cfg);

    mailauth::InboundFacts facts;
    facts.client_ip = envelope.facts.client_ip;
    facts.helo = envelope.facts.helo;
    facts.mail_from = envelope.sender ? envelope.sender->str() : std::string();
    facts.receiver = cfg.hostname;
    facts.now = static_cast<int64_t>(std::time(nullptr));
    mailauth::InboundOptions options{authserv_id, dmarc_sample()};

    // The checks see the message as it came (a DKIM signer may have signed an A-R field).
    auto op = mailauth::check_inbound(resolver, std::move(facts), message, std::move(options));
    mailauth::InboundVerdict verdict = co_await std::move(op);

    InboundAuthOutcome out;
    out.summary = verdict.summary();
    if (verdict.disposition == mailauth::Disposition::Reject) {
        if (a.dmarc_reject == config::DmarcAction::Reject) {
            // RFC 7489 §6.6.4 / §10.3: reject at end of DATA; the text names the policy only.
            out.reject = smtp::Reply(550, "5.7.1", "Message rejected: DMARC policy of the sender's domain");
            co_return out;
        }
    }
    // RFC 8601 §5: fields claiming our authserv-id did not come from us.
    mailauth::remove_forged_results(message, authserv_id);
    out.headers = verdict.header;
    bool tag = (verdict.disposition == mailauth::Disposition::Reject &&
                a.dmarc_reject == config::DmarcAction::Tag) ||
               (verdict.disposition == mailauth::Disposition::Quarantine && a.dmarc_quarantine_tag);
    if (tag) out.headers += "X-Petrel-Quarantine: dmarc\r\n";
    co_return out;
}

}  // namespace petrel::server
