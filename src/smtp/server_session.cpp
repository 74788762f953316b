// smtp/server_session.cpp — input framing, actions and limits of the server session.
//
// Only CRLF ends a command line (RFC 5321 §2.3.8); a line ending in a bare LF is refused with
// 500 5.5.2 and a line over the limit (§4.5.3.1.4; RFC 4954 §4 for AUTH) with 500 5.5.6 at the
// first octet beyond it, the rest of that line being discarded. See docs/smtp-protocol.md for
// the reply chosen in each hardening case.
#include "smtp/server_session.h"

#include "base/escape.h"
#include "smtp/session_impl.h"

namespace petrel::smtp {

ServerSession::ServerSession(SessionConfig config, SessionPolicy& policy, mail::SessionFacts facts)
    : impl_(std::make_unique<Impl>(std::move(config), policy, std::move(facts))) {
    if (impl_->cfg.tls_active) impl_->facts.tls = true;
}

ServerSession::~ServerSession() = default;

// ---- helpers ---------------------------------------------------------------------------

void ServerSession::Impl::send(const Reply& r) { out->wire += r.to_wire(); }

void ServerSession::Impl::event(std::string kind, std::string detail) {
    out->events.push_back(SessionEvent{std::move(kind), std::move(detail)});
}

void ServerSession::Impl::reject(const Reply& r, bool counts) {
    send(r);
    std::string detail = std::to_string(r.code);
    if (!r.enhanced.empty()) detail += " " + r.enhanced;
    if (!r.lines.empty()) detail += " " + r.lines.front();
    event("reject", std::move(detail));
    if (counts) ++errors;
}

void ServerSession::Impl::close_with(const Reply& r) {
    send(r);
    mode = Mode::Closed;
    out->action = Action::Close;
}

void ServerSession::Impl::check_error_limit() {
    // RFC 5321 §4.5.3.1 leaves this to the server; Postfix calls it smtpd_hard_error_limit.
    if (mode != Mode::Closed && errors >= cfg.limits.max_errors) {
        event("protocol", "too many errors");
        close_with(Reply(421, "4.7.0", cfg.hostname + " Error: too many errors"));
    }
}

void ServerSession::Impl::reset_transaction() {
    in_transaction = false;
    envelope = mail::Envelope{};
    used_bdat = false;
    dot.reset();
    chunks.reset();
    bdat_remaining = 0;
    bdat_size = 0;
    bdat_last = false;
    bdat_error.reset();
}

void ServerSession::Impl::request_commit() {
    AcceptedMessage msg;
    msg.envelope = std::move(envelope);
    msg.envelope.facts = facts;
    if (dot) msg.body = dot->take_body();
    else if (chunks) msg.body = chunks->take_body();
    event("message", "complete, " + std::to_string(msg.body.size()) + " octets, " +
                         std::to_string(msg.envelope.recipients.size()) + " recipients");
    reset_transaction();
    out->message = std::move(msg);
    out->action = Action::Commit;
    pending = Pending::Commit;
}

// ---- input -----------------------------------------------------------------------------

size_t ServerSession::Impl::process(std::string_view in) {
    size_t pos = 0;
    while (mode != Mode::Closed && pending == Pending::None && pos < in.size()) {
        std::string_view rest = in.substr(pos);
        if (mode == Mode::Data) {
            pos += dot->consume(rest);
            if (dot->done()) finish_data();
            check_error_limit();
            continue;
        }
        if (mode == Mode::Bdat) {
            const size_t take = static_cast<size_t>(std::min<uint64_t>(bdat_remaining, rest.size()));
            if (chunks && !bdat_error) chunks->add(rest.substr(0, take));
            bdat_remaining -= take;
            pos += take;
            if (bdat_remaining == 0) finish_chunk();
            check_error_limit();
            continue;
        }
        // Command or AUTH response line.
        if (discarding_line) {
            const size_t lf = rest.find('\n');
            if (lf == std::string_view::npos) return in.size();
            pos += lf + 1;
            discarding_line = false;
            continue;
        }
        const bool auth_line = mode == Mode::AuthWait || starts_with_ci(rest, "AUTH ");
        const size_t limit = auth_line ? cfg.limits.max_auth_line : cfg.limits.max_command_line;
        const size_t scan = std::min(rest.size(), limit);
        const size_t lf = rest.substr(0, scan).find('\n');
        if (lf == std::string_view::npos) {
            if (rest.size() < limit) break;  // need more bytes
            // RFC 5321 §4.5.3.1.4 / §4.5.3.1.10: "500 Line too long", at the first octet beyond.
            pos += scan;
            discarding_line = true;
            event("protocol", "command line too long");
            if (mode == Mode::AuthWait) {
                mode = Mode::Command;
                auth_mech.clear();
                auth_login_user.clear();
            }
            reject(Reply(500, "5.5.6", "Error: line too long"));
            check_error_limit();
            continue;
        }
        pos += lf + 1;
        if (lf == 0 || rest[lf - 1] != '\r') {
            // Only CRLF ends a line (RFC 5321 §2.3.8): a bare LF is refused, never obeyed.
            event("protocol", "bare LF in command line");
            if (mode == Mode::AuthWait) {
                mode = Mode::Command;
                auth_mech.clear();
                auth_login_user.clear();
            }
            reject(Reply(500, "5.5.2", "Error: line must end in CRLF"));
            check_error_limit();
            continue;
        }
        more_input_after_line = pos < in.size();
        handle_line(rest.substr(0, lf - 1));
        check_error_limit();
    }
    return pos;
}

void ServerSession::Impl::handle_line(std::string_view line) {
    if (mode == Mode::AuthWait) {
        auth_response(line);
        return;
    }
    for (unsigned char c : line) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            event("protocol", "control character in command: " + base::escape_for_log(line));
            reject(Reply(500, "5.5.2", "Error: invalid character in command"));
            return;
        }
    }
    const Command cmd = parse_command(line);
    if (cmd.verb == Verb::Auth) {
        // AUTH payloads never reach a log (STYLE §5): the mechanism only.
        const size_t sp = cmd.arg.find(' ');
        event("command", "AUTH " + base::escape_for_log(cmd.arg.substr(0, sp), 20));
    } else {
        event("command", base::escape_for_log(line));
    }
    dispatch(cmd, line);
}

// ---- public API ------------------------------------------------------------------------

Output ServerSession::start() {
    Output out;
    Impl::OutputScope scope(*impl_, out);
    // RFC 5321 §4.2 / RFC 2034 §3: the greeting carries no enhanced status code.
    impl_->send(Reply(220, "", impl_->cfg.hostname + " ESMTP ready"));
    return out;
}

Output ServerSession::feed(std::string_view bytes) {
    Output out;
    Impl& s = *impl_;
    Impl::OutputScope scope(s, out);
    if (s.mode == Impl::Mode::Closed) {
        out.action = Action::Close;
        return out;
    }
    if (s.pending == Impl::Pending::StartTls) {
        // RFC 3207 §4.2 / CVE-2011-0411: nothing sent before the handshake may be obeyed after.
        if (!bytes.empty()) {
            s.tls_injection = true;
            s.event("protocol", "input before the TLS handshake dropped");
        }
        return out;
    }
    if (s.pending != Impl::Pending::None) {
        s.pending_input += bytes.size();
        if (s.pending_input > kMaxPendingInput) {
            if (!s.pending_overflow) s.event("protocol", "too much input while an action is pending");
            s.pending_overflow = true;
            return out;
        }
        s.inbuf.append(bytes);
        return out;
    }
    if (s.inbuf.empty()) {
        const size_t used = s.process(bytes);
        if (s.mode != Impl::Mode::Closed && used < bytes.size()) s.inbuf.assign(bytes.substr(used));
    } else {
        s.inbuf.append(bytes);
        const size_t used = s.process(s.inbuf);
        if (s.mode != Impl::Mode::Closed) s.inbuf.erase(0, used);
    }
    if (s.mode == Impl::Mode::Closed || (s.inbuf.empty() && s.inbuf.capacity() > 1024))
        std::string().swap(s.inbuf);
    return out;
}

// Shared tail of the resume calls: refuse an overflow, then process what was buffered.
void ServerSession::Impl::resume() {
    Impl& s = *this;
    s.pending_input = 0;
    if (s.pending_overflow) {
        s.pending_overflow = false;
        s.close_with(Reply(421, "4.7.0", s.cfg.hostname + " Error: too much pipelined input"));
        std::string().swap(s.inbuf);
        return;
    }
    if (s.mode == Mode::Closed) {
        std::string().swap(s.inbuf);
        return;
    }
    if (s.inbuf.empty()) return;
    std::string buffered = std::move(s.inbuf);
    s.inbuf.clear();
    const size_t used = s.process(buffered);
    if (s.mode != Mode::Closed && used < buffered.size()) s.inbuf.assign(buffered, used, std::string::npos);
}

Output ServerSession::tls_established(const TlsInfo& info) {
    Output out;
    Impl& s = *impl_;
    Impl::OutputScope scope(s, out);
    if (s.pending != Impl::Pending::StartTls) {
        s.event("error", "tls_established without a pending STARTTLS");
        return out;
    }
    s.pending = Impl::Pending::None;
    std::string().swap(s.inbuf);
    s.pending_input = 0;
    if (s.tls_injection) {
        // The client did not wait for the handshake: it is broken or an attack. Disconnect.
        s.close_with(Reply(421, "4.7.0", s.cfg.hostname + " Error: pipelining after STARTTLS not allowed"));
        return out;
    }
    // RFC 3207 §4.2: forget everything learned before TLS; the client must EHLO again.
    s.facts.tls = true;
    s.facts.tls_version = info.version;
    s.facts.tls_cipher = info.cipher;
    s.facts.helo.clear();
    s.facts.esmtp = false;
    s.facts.auth_user.clear();
    s.helo_done = false;
    s.reset_transaction();
    s.event("protocol", "TLS established: " + base::escape_for_log(info.version, 40) + " " +
                            base::escape_for_log(info.cipher, 80));
    return out;
}

Output ServerSession::auth_result(AuthVerdict verdict) {
    Output out;
    Impl& s = *impl_;
    Impl::OutputScope scope(s, out);
    if (s.pending != Impl::Pending::Auth) {
        s.event("error", "auth_result without a pending AUTH");
        return out;
    }
    s.pending = Impl::Pending::None;
    switch (verdict) {
        case AuthVerdict::Ok:
            s.facts.auth_user = s.auth_username;
            s.event("auth", "success for " + base::escape_for_log(s.auth_username, 100));
            s.send(Reply(235, "2.7.0", "Authentication successful"));
            break;
        case AuthVerdict::Failed:
            // No event: the network layer logs the failure with the client IP and user name
            // (the line fail2ban-style tools match), and the reject line follows.
            s.reject(Reply(535, "5.7.8", "Error: authentication credentials invalid"));
            break;
        case AuthVerdict::TemporaryFail:
            s.event("auth", "temporary failure");
            s.reject(Reply(454, "4.7.0", "Temporary authentication failure"));
            break;
        case AuthVerdict::Throttled:
            s.event("auth", "throttled");
            s.close_with(Reply(421, "4.7.0", s.cfg.hostname + " Error: too many authentication failures"));
            break;
    }
    s.auth_username.clear();
    s.check_error_limit();
    s.resume();
    return out;
}

Output ServerSession::commit_result(const CommitResult& result) {
    Output out;
    Impl& s = *impl_;
    Impl::OutputScope scope(s, out);
    if (s.pending != Impl::Pending::Commit) {
        s.event("error", "commit_result without a pending commit");
        return out;
    }
    s.pending = Impl::Pending::None;
    if (result.ok) {
        s.event("message", "queued as " + base::escape_for_log(result.queue_id, 64));
        s.send(Reply(250, "2.0.0", "Ok: queued as " + result.queue_id));
    } else {
        Reply r = result.failure.value_or(Reply(451, "4.3.0", "Error: queue unavailable, try again later"));
        s.reject(r, false);  // our failure, not the client's
    }
    s.resume();
    return out;
}

Output ServerSession::timeout() {
    Output out;
    Impl::OutputScope scope(*impl_, out);
    if (impl_->mode == Impl::Mode::Closed) {
        out.action = Action::Close;
        return out;
    }
    impl_->event("protocol", "timeout");
    impl_->close_with(Reply(421, "4.4.2", impl_->cfg.hostname + " Error: timeout exceeded"));
    return out;
}

std::chrono::milliseconds ServerSession::read_timeout() const {
    // RFC 5321 §4.5.3.2: command timeout between commands, data timeout within a body.
    if (impl_->mode == Impl::Mode::Data || impl_->mode == Impl::Mode::Bdat)
        return impl_->cfg.limits.data_timeout;
    return impl_->cfg.limits.command_timeout;
}

bool ServerSession::closed() const { return impl_->mode == Impl::Mode::Closed; }

const mail::SessionFacts& ServerSession::facts() const { return impl_->facts; }

}  // namespace petrel::smtp
