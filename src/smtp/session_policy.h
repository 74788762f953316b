// smtp/session_policy.h — the questions a server session asks while it runs: may this sender,
// may this recipient. Answered synchronously from an immutable snapshot (policy/ implements it).
//
// Contract: called on the session's own thread; must not block on I/O; must return a generic
// Reply that names no configuration (STYLE §6). A nullopt answer means "accept".
#pragma once

#include <optional>

#include "mail/envelope.h"
#include "smtp/reply.h"

namespace petrel::smtp {

class SessionPolicy {
public:
    virtual ~SessionPolicy() = default;
    // MAIL FROM, after syntax and sequence checks. facts.auth_user tells whether AUTH happened.
    virtual std::optional<Reply> check_mail(const mail::SessionFacts& facts,
                                            const std::optional<mail::Mailbox>& sender) = 0;
    // RCPT TO, after syntax and sequence checks: relay control (RFC 5321 §3.9, §7.1) and local
    // user existence (550 5.1.1) live behind this.
    virtual std::optional<Reply> check_rcpt(const mail::SessionFacts& facts,
                                            const std::optional<mail::Mailbox>& sender,
                                            const mail::Mailbox& rcpt) = 0;
};

// Accepts everything: for unit tests of the state machine and the fuzzer.
class AcceptAllPolicy final : public SessionPolicy {
public:
    std::optional<Reply> check_mail(const mail::SessionFacts&,
                                    const std::optional<mail::Mailbox>&) override {
        return std::nullopt;
    }
    std::optional<Reply> check_rcpt(const mail::SessionFacts&, const std::optional<mail::Mailbox>&,
                                    const mail::Mailbox&) override {
        return std::nullopt;
    }
};

}  // namespace petrel::smtp
