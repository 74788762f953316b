// control/message_json.h — the JSON shapes of one queued message (docs/queue-cli.md): the
// `list` object, the envelope of `show`, and the small encoders they need.
//
// Trust: input is petrel's own queue state, whose envelope fields were validated on the way in
// (mail/envelope.h), but header bytes are what a client sent: anything that is not valid UTF-8
// (RFC 6532 allows UTF-8 only) is replaced by U+FFFD so the JSON stays valid. Pure: no I/O.
// Envelope fields: RFC 5321 §3.3, DSN parameters RFC 3461 §4, BODY RFC 6152 / RFC 3030.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mail/envelope.h"
#include "queue/queue_manager.h"

namespace petrel::control {

// {"id","created","age_seconds","size","sender","recipients":[...],"state","attempts",
//  "next_attempt","last_error","is_bounce"}
boost::json::object message_json(const queue::MessageInfo& info, int64_t now_ms);

// {"sender","params":{...},"recipients":[{"address","notify","orcpt"}],"session":{...}}
boost::json::object envelope_json(const mail::Envelope& envelope);

// The header block of a message: everything before the first empty line (RFC 5322 §2.1),
// ending with the last header's CRLF; the whole message when it has no body.
std::string_view header_block(std::string_view message);

// "2026-11-25T16:00:00Z" for a Unix time in milliseconds (seconds precision, UTC).
std::string iso_time(int64_t unix_ms);

std::string_view to_string(queue::MessageState state);
std::string_view to_string(queue::RecipientState state);
std::optional<queue::MessageState> message_state_from(std::string_view name);

// `s` unchanged when it is valid UTF-8; otherwise each invalid byte becomes U+FFFD.
std::string utf8_or_replacement(std::string_view s);

}  // namespace petrel::control
