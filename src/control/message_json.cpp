// control/message_json.cpp — see message_json.h.
#include "control/message_json.h"

#include <boost/json/array.hpp>
#include <ctime>

#include "mail/utf8.h"

namespace petrel::control {

namespace json = boost::json;

namespace {

std::string address_of(const std::optional<mail::Mailbox>& m) {
    if (!m) return "";  // the null reverse-path <>
    return m->domain.empty() ? m->local : m->str();
}

const char* body_name(mail::BodyType b) {
    switch (b) {
        case mail::BodyType::SevenBit:
            return "7BIT";
        case mail::BodyType::EightBitMime:
            return "8BITMIME";
        case mail::BodyType::BinaryMime:
            return "BINARYMIME";
    }
    return "7BIT";
}

json::value ret_value(mail::DsnRet r) {
    switch (r) {
        case mail::DsnRet::Full:
            return "FULL";
        case mail::DsnRet::Headers:
            return "HDRS";
        case mail::DsnRet::Unspecified:
            break;
    }
    return nullptr;
}

// RFC 3461 §4.1: NEVER alone, or any of SUCCESS, FAILURE, DELAY; [] when not given.
json::array notify_array(const mail::Notify& n) {
    json::array a;
    if (!n.specified) return a;
    if (n.never) {
        a.emplace_back("NEVER");
        return a;
    }
    if (n.success) a.emplace_back("SUCCESS");
    if (n.failure) a.emplace_back("FAILURE");
    if (n.delay) a.emplace_back("DELAY");
    return a;
}

json::object session_json(const mail::SessionFacts& f) {
    json::object o;
    o["session_id"] = f.session_id;
    o["listener"] = f.listener;
    o["client_ip"] = f.client_ip;
    o["client_port"] = f.client_port;
    o["helo"] = utf8_or_replacement(f.helo);
    o["esmtp"] = f.esmtp;
    o["tls"] = f.tls;
    o["tls_version"] = f.tls_version;
    o["tls_cipher"] = f.tls_cipher;
    o["auth_user"] = utf8_or_replacement(f.auth_user);
    return o;
}

}  // namespace

json::object message_json(const queue::MessageInfo& m, int64_t now_ms) {
    json::object o;
    o["id"] = m.id;
    o["created"] = iso_time(m.created_ms);
    o["age_seconds"] = now_ms > m.created_ms ? (now_ms - m.created_ms) / 1000 : 0;
    o["size"] = m.size;
    o["sender"] = utf8_or_replacement(m.sender);
    json::array rcpts;
    rcpts.reserve(m.recipients.size());
    for (const queue::RecipientStatus& r : m.recipients) {
        json::object x;
        x["address"] = utf8_or_replacement(r.address);
        x["state"] = to_string(r.state);
        x["attempts"] = r.attempts;
        x["last_error"] = utf8_or_replacement(r.last_error);
        rcpts.push_back(std::move(x));
    }
    o["recipients"] = std::move(rcpts);
    o["state"] = to_string(m.state);
    o["attempts"] = m.attempts;
    // null: no attempt is scheduled (held, captured, done) or none has been made yet and the
    // message is due as soon as possible (next_attempt_ms 0).
    const bool scheduled = m.state == queue::MessageState::Queued ||
                           m.state == queue::MessageState::Deferred;
    if (scheduled && m.next_attempt_ms > 0) o["next_attempt"] = iso_time(m.next_attempt_ms);
    else o["next_attempt"] = nullptr;
    o["last_error"] = utf8_or_replacement(m.last_error);
    o["is_bounce"] = m.is_bounce;
    return o;
}

json::object envelope_json(const mail::Envelope& e) {
    json::object params;
    if (e.params.size) params["size"] = *e.params.size;
    else params["size"] = nullptr;
    params["body"] = body_name(e.params.body);
    params["smtputf8"] = e.params.smtputf8;
    params["ret"] = ret_value(e.params.ret);
    params["envid"] = utf8_or_replacement(e.params.envid);
    params["auth"] = utf8_or_replacement(e.params.auth);

    json::array rcpts;
    for (const mail::Recipient& r : e.recipients) {
        json::object x;
        x["address"] = utf8_or_replacement(address_of(r.mailbox));
        x["notify"] = notify_array(r.notify);
        x["orcpt"] = utf8_or_replacement(r.orcpt);
        rcpts.push_back(std::move(x));
    }
    json::object o;
    o["sender"] = utf8_or_replacement(address_of(e.sender));
    o["params"] = std::move(params);
    o["recipients"] = std::move(rcpts);
    o["session"] = session_json(e.facts);
    return o;
}

std::string_view header_block(std::string_view message) {
    if (message.starts_with("\r\n")) return {};
    size_t end = message.find("\r\n\r\n");
    return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

std::string iso_time(int64_t unix_ms) {
    std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string_view to_string(queue::MessageState s) {
    switch (s) {
        case queue::MessageState::Queued:
            return "queued";
        case queue::MessageState::Deferred:
            return "deferred";
        case queue::MessageState::Held:
            return "held";
        case queue::MessageState::Captured:
            return "captured";
        case queue::MessageState::Done:
            return "done";
    }
    return "queued";
}

std::string_view to_string(queue::RecipientState s) {
    switch (s) {
        case queue::RecipientState::Pending:
            return "pending";
        case queue::RecipientState::Delivered:
            return "delivered";
        case queue::RecipientState::Bounced:
            return "bounced";
        case queue::RecipientState::Captured:
            return "captured";
    }
    return "pending";
}

std::optional<queue::MessageState> message_state_from(std::string_view name) {
    for (auto s : {queue::MessageState::Queued, queue::MessageState::Deferred,
                   queue::MessageState::Held, queue::MessageState::Captured,
                   queue::MessageState::Done}) {
        if (to_string(s) == name) return s;
    }
    return std::nullopt;
}

std::string utf8_or_replacement(std::string_view s) {
    if (mail::is_valid_utf8(s)) return std::string(s);
    std::string out;
    out.reserve(s.size() + 16);
    size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        size_t len = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3
                                     : (lead & 0xF8) == 0xF0 ? 4 : 0;
        if (len > 0 && i + len <= s.size() && mail::is_valid_utf8(s.substr(i, len))) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

}  // namespace petrel::control
