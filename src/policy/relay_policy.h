// policy/relay_policy.h — relay control: who may send mail to which recipient (never an open
// relay). Implements smtp::SessionPolicy from an immutable config snapshot.
//
// Rules (RFC 5321 §3.9 and §7.1; STANDARDS.md "Open relay"):
//  - An authenticated client (facts.auth_user non-empty) may send to any domain.
//  - On submission/submissions, an unauthenticated client is refused MAIL and RCPT with
//    530 5.7.0 (RFC 6409 §4.3; the session enforces this too, this is the second lock).
//  - On mx, for an unauthenticated client, a recipient is refused with 550 5.7.1 when
//      * its domain is an address literal ("[192.0.2.1]"): petrel serves no literal;
//      * its local part holds '%', '!' or '@' (quoted or not): the "percent hack", UUCP bang
//        paths and "user@other"@served tricks that old MTAs turned into relaying;
//      * its local part looks like a leftover source route (starts with '@' or holds ':');
//        (the path parser already drops source routes, RFC 5321 §4.1.2 and Appendix C);
//      * it has no domain, except the bare "<Postmaster>" of RFC 5321 §4.5.1 (which the session
//        rewrites to postmaster@<hostname>, accepted here whatever the domain lists say);
//      * its domain is not one petrel serves (domains.local or domains.relay), unless the
//        delivery mode is sandbox, which captures mail for any domain and delivers none
//        (docs/configuration.md, "Sandbox").
//    Quoted local parts are otherwise accepted for served domains.
//  - With a LocalRecipients table, a recipient in a local domain (any listener, authenticated
//    or not) that names no local user or alias is refused with 550 5.1.1 (RFC 3463 X.1.1) at
//    RCPT time, so it never becomes a bounce later.
// Replies are generic and name no configuration (STYLE §6).
// Trust: the Mailbox was syntax-checked by the path parser; this decides on meaning only.
// Thread-safety: immutable after construction; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>

#include "config/config.h"
#include "policy/local_recipients.h"
#include "smtp/session_policy.h"

namespace petrel::policy {

class RelayPolicy final : public smtp::SessionPolicy {
public:
    explicit RelayPolicy(const config::Config& config);
    // `local` (must outlive the policy) answers who exists in domains.local.
    RelayPolicy(const config::Config& config, const LocalRecipients& local);

    std::optional<smtp::Reply> check_mail(const mail::SessionFacts& facts,
                                          const std::optional<mail::Mailbox>& sender) override;
    std::optional<smtp::Reply> check_rcpt(const mail::SessionFacts& facts,
                                          const std::optional<mail::Mailbox>& sender,
                                          const mail::Mailbox& rcpt) override;

    // True when `domain` (normalized) is one of domains.local or domains.relay.
    bool serves(const std::string& domain) const;

private:
    std::optional<smtp::Reply> check_relay(const mail::SessionFacts& facts,
                                           const mail::Mailbox& rcpt) const;

    std::unordered_set<std::string> served_;
    std::string hostname_;  // normalized; postmaster@hostname_ is always accepted
    bool sandbox_ = false;
    const LocalRecipients* local_ = nullptr;  // nullptr: every local part of a local domain
};

}  // namespace petrel::policy
