// server/inbound_auth.h — the mx listener's authentication step at the end of DATA: runs
// mailauth::check_inbound (SPF, DKIM, DMARC, ARC), removes Authentication-Results fields that
// forge petrel's authserv-id (RFC 8601 §5), and decides from [authentication] what DMARC's
// disposition means here: a 550 5.7.1 (nothing queued), a quarantine tag, or nothing.
//
// Trust: the envelope and message come from the SMTP client. Only the mx listener is checked:
// submission and submissions users have authenticated (docs/authentication-results.md).
// Replies name no configuration (STYLE §6).
// Threads: the io thread (the resolver's). Internal to server/: includes Asio.
#pragma once

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "config/config.h"
#include "dns/resolver.h"
#include "mail/envelope.h"
#include "smtp/reply.h"

namespace petrel::server {

struct InboundAuthOutcome {
    std::optional<smtp::Reply> reject;  // DMARC p=reject failure with dmarc_reject = "reject"
    std::string headers;  // fields to put above the message: Authentication-Results (+ tag)
    std::string summary;  // for the log line: "spf=pass dkim=pass dmarc=pass arc=none"
};

// `message` is the message as received; forged Authentication-Results fields are removed
// from it in place (it must stay alive until the coroutine completes: the caller owns it).
boost::asio::awaitable<InboundAuthOutcome> check_inbound_message(dns::Resolver& resolver,
                                                                 const config::Config& cfg,
                                                                 const mail::Envelope& envelope,
                                                                 std::string& message);

// Every message that is not checked (submission, or mx with [authentication] enabled =
// false) still loses the Authentication-Results fields naming petrel's authserv-id (RFC 8601
// §5: they did not come from petrel; a local recipient's reader would otherwise trust a
// field a client wrote). Returns how many were removed.
size_t remove_forged_authentication_results(const config::Config& cfg, std::string& message);

}  // namespace petrel::server
