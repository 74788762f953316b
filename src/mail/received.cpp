// mail/received.cpp — see received.h. RFC 5321 §4.4, RFC 3848, RFC 6531 §3.7.3, RFC 8314 §4.3.
#include "mail/received.h"

#include <cstdio>

#include "mail/domain.h"

namespace petrel::mail {
namespace {

bool is_safe_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
}

// Socket-derived, but kept to address characters anyway.
std::string client_literal(std::string_view ip) {
    std::string clean;
    for (char c : ip)
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':')
            clean += c;
    if (clean.empty()) return "unknown";
    if (clean.find(':') != std::string::npos) return "[IPv6:" + clean + "]";
    return "[" + clean + "]";
}

// Comment text from petrel-side values (TLS names): no parentheses, backslashes or controls.
std::string comment_safe(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c > ' ' && c < 0x7f && c != '(' && c != ')' && c != '\\') out += c;
    return out;
}

}  // namespace

std::string format_rfc5322_date(std::time_t when) {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&when, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
                  tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::string received_protocol(const SessionFacts& facts, bool smtputf8) {
    if (!facts.esmtp) return "SMTP";
    std::string p = smtputf8 ? "UTF8SMTP" : "ESMTP";
    if (facts.tls) p += 'S';
    if (!facts.auth_user.empty()) p += 'A';
    return p;
}

std::string sanitize_helo(std::string_view helo) {
    std::string out;
    for (char c : helo) {
        if (out.size() >= 64) break;
        if (is_safe_token_char(c)) out += c;
    }
    return out;
}

std::string build_received(const Envelope& envelope, std::string_view hostname,
                           std::string_view queue_id, std::time_t when) {
    const SessionFacts& f = envelope.facts;
    const std::string ip = client_literal(f.client_ip);
    std::string out = "Received: from ";
    // From-domain: the HELO name when it is a well-formed Domain or address literal, with the
    // connection's address as TCP-info (RFC 5321 §4.4 Extended-Domain); otherwise the address,
    // and the sanitized HELO only inside the comment.
    const bool helo_is_domain = !f.helo.empty() && f.helo.size() <= kMaxDomainLength &&
                                (f.helo.front() == '['
                                     ? normalize_address_literal(f.helo).has_value()
                                     : normalize_domain(f.helo, false).ok());
    if (helo_is_domain) {
        out += f.helo;
        out += " (" + ip + ")";
    } else {
        out += ip;
        const std::string clean = sanitize_helo(f.helo);
        out += " (" + ip;
        if (!clean.empty()) out += " helo=" + clean;
        out += ")";
    }
    out += "\r\n\tby ";
    out += sanitize_helo(hostname).empty() ? std::string("localhost") : sanitize_helo(hostname);
    out += " (petrel) with ";
    out += received_protocol(f, envelope.params.smtputf8);
    if (!queue_id.empty()) {
        out += " id ";
        out += sanitize_helo(queue_id);
    }
    if (f.tls) {
        // RFC 8314 §4.3: TLS details in a comment.
        out += "\r\n\t(using " + comment_safe(f.tls_version.empty() ? "TLS" : f.tls_version);
        if (!f.tls_cipher.empty()) out += " with cipher " + comment_safe(f.tls_cipher);
        out += ")";
    }
    if (envelope.recipients.size() == 1) {
        out += "\r\n\tfor <" + envelope.recipients.front().mailbox.str() + ">";
    }
    out += ";\r\n\t";
    out += format_rfc5322_date(when);
    out += "\r\n";
    return out;
}

}  // namespace petrel::mail
