// mail/received.h — the Received trace header field petrel prepends to a message it accepts.
//
// Trust: the envelope's SessionFacts hold peer words (the HELO argument), which are
// sanitized here before they reach the header; everything else was produced by petrel.
// RFC 5321 §4.4 (Stamp syntax: from, by, with, id, for, date), RFC 3848 and RFC 6531 §3.7.3
// (WITH protocol types: SMTP, ESMTP, ESMTPA, ESMTPS, ESMTPSA, UTF8SMTP, UTF8SMTPA, UTF8SMTPS,
// UTF8SMTPSA), RFC 8314 §4.3 (TLS version and cipher in a comment), RFC 5322 §3.3 (date-time)
// and §2.2.3 (folding: every continuation line starts with a TAB; every line ends in CRLF).
// Pure: the time is passed in.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "mail/envelope.h"

namespace petrel::mail {

// RFC 5322 §3.3 date-time in UTC, e.g. "Mon, 23 Nov 2026 19:56:14 +0000".
std::string format_rfc5322_date(std::time_t when);

// The RFC 3848 / RFC 6531 WITH keyword for the session and message.
std::string received_protocol(const SessionFacts& facts, bool smtputf8);

// The HELO argument made safe for a header: characters of a domain or address literal only,
// at most 64 of them; empty when nothing usable remains.
std::string sanitize_helo(std::string_view helo);

// The whole field, "Received: ...\r\n" with folded continuation lines. "for <...>" appears only
// when the envelope has exactly one recipient (RFC 5321 §4.4 leaves it optional; naming one of
// several recipients would disclose it to the others).
std::string build_received(const Envelope& envelope, std::string_view hostname,
                           std::string_view queue_id, std::time_t when);

}  // namespace petrel::mail
