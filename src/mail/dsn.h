// mail/dsn.h — delivery status notifications (bounces, delay warnings, success reports).
//
// Builds an RFC 3464 report: a multipart/report (RFC 6522) with report-type=delivery-status,
// a human-readable text part, a message/delivery-status part (per-message fields, then one
// block per recipient: Final-Recipient, Original-Recipient from ORCPT, Action, Status,
// Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until) and the original message
// (RFC 3461 §4.3 RET: FULL -> message/rfc822; HDRS or unspecified -> text/rfc822-headers).
// For a message sent with SMTPUTF8 the RFC 6533 types are used (message/global-delivery-status,
// message/global, message/global-headers). Sent From: MAILER-DAEMON@hostname with an empty
// envelope sender (RFC 5321 §4.5.5) and Auto-Submitted: auto-replied (RFC 3834 §5).
//
// Trust: the envelope and the original message came from peers. Every value copied into a
// header or report field (ENVID, ORCPT, the server's reply, addresses) is stripped of CR, LF
// and other controls here, so nothing can inject a field or a MIME boundary. Pure: the date,
// Message-ID and boundary seed are passed in.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/envelope.h"

namespace petrel::mail {

enum class DsnAction { Failed, Delayed, Delivered, Relayed, Expanded };  // RFC 3464 §2.3.3

struct DsnRecipient {
    Recipient recipient;       // the envelope recipient (mailbox, NOTIFY, ORCPT)
    DsnAction action = DsnAction::Failed;
    std::string status;        // RFC 3463 code, e.g. "5.1.1"
    std::string remote_mta;    // host name of the server that answered; empty when none did
    std::string diagnostic;    // the server's reply as text ("550 5.1.1 User unknown"); empty: none
    std::time_t last_attempt = 0;            // 0: not given
    std::optional<std::time_t> will_retry_until;  // delayed only
};

struct DsnInput {
    const Envelope* envelope = nullptr;  // the original message's envelope
    std::string_view original;           // the original message as stored (headers and body)
    std::vector<DsnRecipient> recipients;  // those to report on (see dsn_wanted)
    std::string reporting_mta;           // petrel's hostname
    std::time_t arrival = 0;             // when the message was accepted; 0: not given
    std::time_t now = 0;                 // the Date of the report
    std::string message_id;              // "<id@host>" for the report itself
    size_t full_return_limit = 10 * 1024 * 1024;  // RET=FULL beyond this: headers only
};

struct DsnMessage {
    Envelope envelope;  // from <> to the original sender, NOTIFY=NEVER
    std::string message;  // the whole report, CRLF line ends
};

// RFC 3461 §4.1, §5.2.x: whether this outcome for this recipient must be reported. Never for a
// message from the null reverse-path (RFC 5321 §4.5.5: no bounce of a bounce) nor NOTIFY=NEVER;
// with NOTIFY given, only for the conditions it names (FAILURE / DELAY / SUCCESS, the last
// covering delivered, relayed and expanded); without NOTIFY, failures and delays.
bool dsn_wanted(const Envelope& envelope, const Recipient& recipient, DsnAction action);

// The report, or nullopt when there is nothing to send (null sender, no recipients).
std::optional<DsnMessage> build_dsn(const DsnInput& in);

// Status and diagnostic text for a DSN from an SMTP reply code, enhanced code and text lines.
// The status falls back to "X.0.0" of the reply's class when the server gave no enhanced code.
std::string dsn_status_for(int code, std::string_view enhanced);

}  // namespace petrel::mail
