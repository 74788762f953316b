// delivery/maildir.h — final delivery of a message into a local user's Maildir
// (<maildir_root>/<user>/Maildir/{tmp,new,cur}), the MDA role of PRODUCT.md.
//
// The Maildir protocol (https://cr.yp.to/proto/maildir.html): the message is written to
// tmp/<unique name>, the file is fsynced, then renamed (never replacing anything) to
// new/<unique name>, and new/ is fsynced: the delivery is atomic (a reader never sees a partial
// file) and durable before `ok` is reported. Unique names are
// <seconds>.M<usec>P<pid>Q<counter>R<random>.<host> ('/' and ':' in the host name written as
// \057 and \072, as the protocol asks).
// What is stored: "Return-Path: <sender>" (RFC 5321 §4.4, the final-delivery trace line;
// "<>" for the null reverse-path) and "Delivered-To: <recipient>" at the top, then the message
// with each CRLF turned into LF (the Maildir convention, as Postfix local(8) and qmail store it);
// bare CR or LF bytes (none reach the queue from SMTP) are kept as they are.
//
// Trust: `user` is a local part from a peer (a recipient in a local domain). It becomes a file
// name only in mail::mailbox_name form (mail/local_part.h): lower-cased, and anything that
// could leave the root ('/', "..", NUL, a leading '.', control characters) is refused as a
// permanent failure (550 5.1.3). Directories under the root are opened with O_NOFOLLOW.
// Ownership: directories (0700) and files (0600) belong to the user petrel runs as (after its
// privilege drop, run_as); delivery as each mailbox's own system user is out of scope.
// Errors are values: disk full or quota → temporary 452 4.3.1; any other I/O error (an
// unwritable root, EIO) → temporary 451 4.3.0 (logged with the path; the reply names none);
// an unknown user → permanent 550 5.1.1.
// Thread-safety: deliver() may run on several threads at once (the counter is atomic).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mail/envelope.h"

namespace petrel::delivery {

// What happened to one recipient's delivery. `reply` is an SMTP-style reply line
// ("250 2.0.0 ...", "452 4.3.1 ...", "550 5.1.1 ..."): what a DSN reports.
struct DeliveryOutcome {
    bool ok = false;
    bool permanent = false;  // when !ok: bounce (true) or retry later (false)
    std::string reply;
};

class MaildirDelivery {
public:
    // Maps a local part (an alias included) to the mailbox that receives it, nullopt when no
    // such user exists: policy::LocalRecipients::resolve, wired by app/. Must be thread-safe.
    using UserLookup = std::function<std::optional<std::string>(std::string_view local_part)>;

    // Without a lookup every usable name is a mailbox (the catch-all of docs/delivery.md).
    explicit MaildirDelivery(std::string maildir_root);
    MaildirDelivery(std::string maildir_root, UserLookup lookup);

    // Delivers `message` (as queued: CRLF lines, no dot-stuffing) to the mailbox of `user`
    // (a local part; resolved through the lookup when there is one). `envelope` gives the
    // Return-Path and the Delivered-To address (the recipient whose local part is `user`, else
    // the first that reaches the same mailbox). Two recipients that reach one mailbox (alice
    // and an alias of alice) are two calls and two copies: no duplicate elimination.
    DeliveryOutcome deliver(const std::string& user, std::string_view message,
                            const mail::Envelope& envelope);

    const std::string& root() const { return root_; }

    // A fresh unique file name (the Maildir protocol's); public for tests.
    std::string unique_name();

private:
    DeliveryOutcome store(const std::string& mailbox, const std::string& header,
                          std::string_view message);
    std::string delivered_to(const std::string& user, const std::string& mailbox,
                             const mail::Envelope& envelope) const;

    std::string root_;
    UserLookup lookup_;
    std::string host_;  // gethostname(), escaped for a file name
    std::atomic<uint64_t> counter_{0};
};

}  // namespace petrel::delivery
