// mail/dsn.cpp — see dsn.h. RFC 3464 §2 (fields), RFC 3461 §4 (RET, ENVID, NOTIFY, ORCPT),
// RFC 6522 (multipart/report), RFC 6533 (internationalized DSNs), RFC 3834 §5.
#include "mail/dsn.h"

#include "mail/received.h"
#include "mail/utf8.h"

namespace petrel::mail {
namespace {

// A value copied into a header or report field: controls (CR and LF above all) become a
// space, runs of spaces collapse, and it is cut to `max` octets.
std::string field_safe(std::string_view s, size_t max = 900) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= max) break;
        const bool ctl = c < 0x20 || c == 0x7f;
        if (ctl || c == ' ') {
            if (!out.empty() && out.back() != ' ') out += ' ';
            continue;
        }
        out += static_cast<char>(c);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

const char* action_name(DsnAction a) {
    switch (a) {
        case DsnAction::Failed: return "failed";
        case DsnAction::Delayed: return "delayed";
        case DsnAction::Delivered: return "delivered";
        case DsnAction::Relayed: return "relayed";
        case DsnAction::Expanded: return "expanded";
    }
    return "failed";
}

// The header section of the original message: up to (not including) the first empty line.
std::string_view header_section(std::string_view msg) {
    size_t pos = 0;
    while (pos < msg.size()) {
        const size_t lf = msg.find('\n', pos);
        if (lf == std::string_view::npos) return msg;
        const std::string_view line = msg.substr(pos, lf - pos);
        if (line.empty() || line == "\r") return msg.substr(0, pos);
        pos = lf + 1;
    }
    return msg;
}

// Appends `text` with every line ending in CRLF (lone CR or LF become CRLF).
void append_crlf(std::string& out, std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            out += "\r\n";
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out += c;
        }
    }
    if (!out.empty() && out.back() != '\n') out += "\r\n";
}

// A typed address for Final-Recipient / Original-Recipient (RFC 3464 §2.3.1, RFC 6533 §3).
std::string typed_address(std::string_view addr) {
    return std::string(is_ascii(addr) ? "rfc822; " : "utf-8; ") + field_safe(addr, 600);
}

bool eight_bit(std::string_view s) { return !is_ascii(s); }

}  // namespace

bool dsn_wanted(const Envelope& env, const Recipient& r, DsnAction action) {
    if (!env.sender) return false;  // RFC 5321 §4.5.5: never to the null reverse-path
    if (r.notify.never) return false;
    switch (action) {
        case DsnAction::Failed:
            return !r.notify.specified || r.notify.failure;
        case DsnAction::Delayed:
            return !r.notify.specified || r.notify.delay;
        case DsnAction::Delivered:
        case DsnAction::Relayed:
        case DsnAction::Expanded:
            return r.notify.specified && r.notify.success;  // RFC 3461 §5.2.2-§5.2.3
    }
    return false;
}

std::string dsn_status_for(int code, std::string_view enhanced) {
    if (!enhanced.empty() && enhanced[0] == static_cast<char>('0' + code / 100)) return std::string(enhanced);
    const int cls = code / 100;
    return std::to_string(cls >= 2 && cls <= 5 && cls != 3 ? cls : 4) + ".0.0";
}

std::optional<DsnMessage> build_dsn(const DsnInput& in) {
    if (!in.envelope || !in.envelope->sender || in.recipients.empty()) return std::nullopt;
    const Envelope& env = *in.envelope;
    const bool utf8 = env.params.smtputf8;
    const std::string host = field_safe(in.reporting_mta, 255);

    bool any_failed = false, any_delayed = false;
    for (const auto& r : in.recipients) {
        any_failed |= r.action == DsnAction::Failed;
        any_delayed |= r.action == DsnAction::Delayed;
    }
    // RET applies to failure reports (RFC 3461 §4.3); others carry the headers only.
    const bool full = any_failed && env.params.ret == DsnRet::Full && in.original.size() <= in.full_return_limit;
    const std::string_view returned = full ? in.original : header_section(in.original);

    // A boundary that the returned content cannot contain (bounded: the content is finite).
    std::string boundary = "=_petrel_" + field_safe(in.message_id, 60);
    for (char& c : boundary)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '='))
            c = '_';
    for (int i = 0; i < 64 && returned.find(boundary) != std::string_view::npos; ++i) boundary += "_" + std::to_string(i);

    const std::string subject = any_failed    ? "Undelivered Mail Returned to Sender"
                                : any_delayed ? "Delayed Mail (still being retried)"
                                              : "Successful Mail Delivery Report";
    std::string m;
    m += "From: Mail Delivery System <MAILER-DAEMON@" + host + ">\r\n";
    m += "To: <" + field_safe(env.sender->str(), 600) + ">\r\n";
    m += "Subject: " + subject + "\r\n";
    m += "Date: " + format_rfc5322_date(in.now) + "\r\n";
    m += "Message-ID: " + field_safe(in.message_id, 200) + "\r\n";
    m += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 §5
    m += "MIME-Version: 1.0\r\n";
    m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
    m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

    // 1. Human-readable part.
    m += "--" + boundary + "\r\n";
    m += "Content-Description: Notification\r\n";
    std::string human;
    human += "This is the mail system at host " + host + ".\r\n\r\n";
    if (any_failed)
        human += "I'm sorry to have to inform you that your message could not\r\n"
             "be delivered to one or more recipients. It's attached below.\r\n\r\n";
    else if (any_delayed)
        human += "Your message could not be delivered yet to one or more recipients.\r\n"
             "It will be retried until it is too old; you do not need to resend it.\r\n\r\n";
    else
        human += "Your message was successfully delivered to the destination(s)\r\n"
             "listed below, as you asked with NOTIFY=SUCCESS.\r\n\r\n";
    for (const auto& r : in.recipients) {
        human += "<" + field_safe(r.recipient.mailbox.str(), 600) + ">: " + action_name(r.action);
        if (!r.remote_mta.empty()) human += ", host " + field_safe(r.remote_mta, 255) + " said:";
        human += "\r\n    " + (r.diagnostic.empty() ? field_safe(r.status) : field_safe(r.diagnostic)) + "\r\n\r\n";
    }
    const bool human_8bit = eight_bit(human);
    m += std::string("Content-Type: text/plain; charset=") + (human_8bit ? "utf-8" : "us-ascii") + "\r\n";
    if (human_8bit) m += "Content-Transfer-Encoding: 8bit\r\n";
    m += "\r\n" + human;

    // 2. The machine-readable report (RFC 3464 §2.2 per-message, §2.3 per-recipient fields).
    m += "--" + boundary + "\r\n";
    m += "Content-Description: Delivery report\r\n";
    m += std::string("Content-Type: ") + (utf8 ? "message/global-delivery-status" : "message/delivery-status") +
         "\r\n\r\n";
    m += "Reporting-MTA: dns; " + host + "\r\n";
    if (!env.params.envid.empty()) m += "Original-Envelope-Id: " + field_safe(env.params.envid, 100) + "\r\n";
    if (in.arrival) m += "Arrival-Date: " + format_rfc5322_date(in.arrival) + "\r\n";
    for (const auto& r : in.recipients) {
        m += "\r\n";
        m += "Final-Recipient: " + typed_address(r.recipient.mailbox.str()) + "\r\n";
        const std::string& orcpt = r.recipient.orcpt;
        const size_t semi = orcpt.find(';');
        if (semi != std::string::npos && semi > 0)
            m += "Original-Recipient: " + field_safe(orcpt.substr(0, semi), 40) + "; " +
                 field_safe(orcpt.substr(semi + 1), 600) + "\r\n";
        m += std::string("Action: ") + action_name(r.action) + "\r\n";
        m += "Status: " + field_safe(r.status, 20) + "\r\n";
        if (!r.remote_mta.empty()) m += "Remote-MTA: dns; " + field_safe(r.remote_mta, 255) + "\r\n";
        if (!r.diagnostic.empty()) m += "Diagnostic-Code: smtp; " + field_safe(r.diagnostic) + "\r\n";
        if (r.last_attempt) m += "Last-Attempt-Date: " + format_rfc5322_date(r.last_attempt) + "\r\n";
        if (r.will_retry_until && r.action == DsnAction::Delayed)
            m += "Will-Retry-Until: " + format_rfc5322_date(*r.will_retry_until) + "\r\n";
    }
    m += "\r\n";

    // 3. The original: whole, or its header section.
    m += "--" + boundary + "\r\n";
    if (full) {
        m += "Content-Description: Undelivered Message\r\n";
        m += std::string("Content-Type: ") + (utf8 ? "message/global" : "message/rfc822") + "\r\n";
    } else {
        m += std::string("Content-Description: ") + (any_failed ? "Undelivered Message Headers" : "Message Headers") +
             "\r\n";
        m += std::string("Content-Type: ") + (utf8 ? "message/global-headers" : "text/rfc822-headers") + "\r\n";
    }
    if (eight_bit(returned)) m += "Content-Transfer-Encoding: 8bit\r\n";
    m += "\r\n";
    append_crlf(m, returned);
    m += "\r\n--" + boundary + "--\r\n";

    DsnMessage dsn;
    dsn.envelope.sender = std::nullopt;  // RFC 5321 §4.5.5
    Recipient to;
    to.mailbox = *env.sender;
    to.notify.never = true;
    to.notify.specified = true;
    dsn.envelope.recipients.push_back(std::move(to));
    dsn.envelope.params.smtputf8 = utf8 && !is_ascii(m);
    dsn.envelope.params.body = eight_bit(m) ? BodyType::EightBitMime : BodyType::SevenBit;
    dsn.message = std::move(m);
    return dsn;
}

}  // namespace petrel::mail
