// smtp/client_session.cpp — input framing, public calls and connection failures of the client
// session (see client_session.h). Replies are parsed by ReplyParser under the configured
// limits; a malformed or oversized reply ends the connection (4.5.0, deferred). A 421 at any
// point ends it with a temporary result for what is pending (RFC 5321 §3.8, §4.2.2).
#include "smtp/client_session.h"

#include "base/escape.h"
#include "mail/utf8.h"
#include "smtp/client_impl.h"

namespace petrel::smtp {

std::optional<std::string_view> StringSource::read(size_t max) {
    const std::string_view all(data_);
    const std::string_view slice = all.substr(pos_, max);
    pos_ += slice.size();
    return slice;
}

bool message_requires_smtputf8(const mail::Envelope& env, std::string_view header_section) {
    if (!env.params.smtputf8) return false;
    if (env.sender && !mail::is_ascii(env.sender->str())) return true;
    for (const auto& r : env.recipients)
        if (!mail::is_ascii(r.mailbox.str())) return true;
    return !mail::is_ascii(header_section);
}

std::string reply_text(const Reply& r) {
    std::string s = std::to_string(r.code);
    if (!r.enhanced.empty()) s += " " + r.enhanced;
    bool first = true;
    for (const auto& l : r.lines) {
        if (l.empty()) continue;
        s += first ? " " : "; ";
        s += l;
        first = false;
    }
    return s;
}

RecipientStatus status_of(const Reply& r) {
    if (r.code / 100 == 2) return RecipientStatus::Delivered;
    return r.permanent() ? RecipientStatus::Failed : RecipientStatus::Deferred;  // 3xx here: broken, retry
}

ClientSession::ClientSession(ClientConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
ClientSession::~ClientSession() = default;

// ---- helpers ---------------------------------------------------------------------------

void ClientSession::Impl::event(std::string kind, std::string detail) {
    out->events.push_back(ClientEvent{std::move(kind), std::move(detail)});
}

void ClientSession::Impl::write(std::string_view line, Expected e, std::string_view log_as) {
    out->wire.append(line);
    out->wire += "\r\n";
    expected.push_back(e);
    event("command", base::escape_for_log(log_as.empty() ? line : log_as, 300));
}

std::string ClientSession::Impl::stage_of(Expect e) {
    switch (e) {
        case Expect::Greeting: return "greeting";
        case Expect::Ehlo: return "EHLO";
        case Expect::Helo: return "HELO";
        case Expect::StartTls: return "STARTTLS";
        case Expect::AuthPlain:
        case Expect::AuthLoginUser:
        case Expect::AuthLoginPass:
        case Expect::AuthLoginDone: return "AUTH";
        case Expect::Rset: return "RSET";
        case Expect::Mail: return "MAIL FROM";
        case Expect::Rcpt: return "RCPT TO";
        case Expect::Data: return "DATA";
        case Expect::Dot:
        case Expect::DotDiscard: return "end of data";
        case Expect::Bdat: return "BDAT";
        case Expect::Quit: return "QUIT";
    }
    return "?";
}

// Every recipient of the current (or queued) transaction without a final result gets one.
void ClientSession::Impl::settle_pending(const Reply& r, bool from_server, const std::string& stage, bool permanent) {
    if (!txn) return;
    for (size_t i = 0; i < outcome.size(); ++i) {
        if (outcome[i]) continue;
        RecipientResult res{i, permanent ? RecipientStatus::Failed : RecipientStatus::Deferred, r, from_server, stage};
        outcome[i] = std::move(res);
    }
    finish_txn();
}

void ClientSession::Impl::fail(Reply r, bool from_server, std::string stage, bool permanent, bool send_quit) {
    if (phase == Phase::Closed) return;
    if (phase == Phase::Quit) {  // the mail is done; a failure now changes nothing
        phase = Phase::Closed;
        out->action = ClientAction::Close;
        return;
    }
    std::string detail = stage + ": " + std::to_string(r.code);
    if (!r.enhanced.empty()) detail += " " + r.enhanced;
    if (!r.lines.empty()) detail += " " + r.lines.front();
    event("protocol", "connection failed at " + base::escape_for_log(detail, 300));
    if (txn && outcome.size() != txn->envelope.recipients.size()) outcome.resize(txn->envelope.recipients.size());
    settle_pending(r, from_server, stage, permanent);
    out->failure = ConnectionFailure{std::move(r), from_server, std::move(stage), permanent};
    if (send_quit) {
        out->wire += "QUIT\r\n";
        event("command", "QUIT");
    }
    phase = Phase::Closed;
    expected.clear();
    cmds.clear();
    std::string().swap(inbuf);
    out->action = ClientAction::Close;
}

// ---- input -----------------------------------------------------------------------------

void ClientSession::Impl::process(std::string_view in) {
    size_t pos = 0;
    while (pos < in.size()) {
        if (phase == Phase::Closed) return;
        if (phase == Phase::TlsWait) {
            // RFC 3207 §4.2 / CVE-2011-0411 (client side): nothing the server sent before the
            // handshake may be read as a reply after it.
            event("protocol", "dropped " + std::to_string(in.size() - pos) + " octets received before the TLS handshake");
            return;
        }
        if (phase == Phase::Body) {
            if (inbuf.size() + (in.size() - pos) > cfg.limits.max_pending_input) {
                fail(Reply(451, "4.5.0", "server sent too much while the message was being sent"), false,
                     "DATA", false, false);
                return;
            }
            inbuf.append(in.substr(pos));
            return;
        }
        pos += parser.feed(in.substr(pos));
        switch (parser.status()) {
            case ReplyParser::Status::NeedMore:
                break;
            case ReplyParser::Status::Complete:
                on_reply(parser.take());
                break;
            case ReplyParser::Status::Error: {
                const std::string why = parser.error();
                const std::string stage = expected.empty() ? std::string("connection") : stage_of(expected.front().what);
                fail(Reply(451, "4.5.0", "malformed reply from server: " + why), false, stage, false, false);
                return;
            }
        }
    }
}

void ClientSession::Impl::on_reply(Reply r) {
    std::string text;
    for (size_t i = 0; i < r.lines.size(); ++i) {
        if (i) text += " | ";
        text += r.lines[i];
    }
    const std::string stage = expected.empty() ? std::string("unexpected") : stage_of(expected.front().what);
    event("reply", stage + ": " + std::to_string(r.code) + (r.enhanced.empty() ? "" : " " + r.enhanced) + " " +
                       base::escape_for_log(text, 1000));
    if (expected.empty()) {
        // A reply to nothing: the server is broken or hostile; nothing it says can be matched.
        fail(r, true, "connection", false, r.code != 421);
        return;
    }
    const Expected e = expected.front();
    expected.pop_front();
    if (r.code == 421 && e.what != Expect::Quit) {
        // RFC 5321 §3.8: the server is closing; do not send QUIT.
        fail(std::move(r), true, stage, false, false);
        return;
    }
    switch (e.what) {
        case Expect::Rset:
        case Expect::Mail:
        case Expect::Rcpt:
        case Expect::Data:
        case Expect::Dot:
        case Expect::DotDiscard:
        case Expect::Bdat:
            on_txn_reply(e, r);
            break;
        case Expect::Quit:
            phase = Phase::Closed;
            out->action = ClientAction::Close;
            break;
        default:
            on_handshake_reply(e, r);
            break;
    }
}

// ---- public API ------------------------------------------------------------------------

namespace {

// Runs one public call with its own output. A closed session only repeats Close, unless the
// call handles that itself (send: its recipients must come back).
template <class F>
ClientOutput run(ClientSession::Impl& s, F&& f, bool closed_repeats_close = true) {
    ClientOutput out;
    ClientSession::Impl::OutputScope scope(s, out);
    if (closed_repeats_close && s.phase == ClientSession::Impl::Phase::Closed) out.action = ClientAction::Close;
    else f(s);
    return out;
}

// The connection is over without a reply: what is pending is deferred, never bounced. After the
// final dot and before its reply the message may or may not have been taken: deferring risks a
// duplicate, never a loss (RFC 1047).
void end_without_reply(ClientSession::Impl& s, const char* why) {
    const std::string stage =
        s.expected.empty() ? std::string("connection") : ClientSession::Impl::stage_of(s.expected.front().what);
    s.fail(Reply(421, "4.4.2", why), false, stage, false, false);
}

}  // namespace

ClientOutput ClientSession::feed(std::string_view bytes) {
    return run(*impl_, [&](Impl& s) { s.process(bytes); });
}

ClientOutput ClientSession::tls_established() {
    return run(*impl_, [](Impl& s) {
        if (s.phase != Impl::Phase::TlsWait) {
            s.event("protocol", "tls_established without a pending STARTTLS");
            return;
        }
        // RFC 3207 §4.2: forget everything learned before TLS and EHLO again.
        s.tls_on = true;
        s.caps = Capabilities{};
        s.parser.reset();
        std::string().swap(s.inbuf);
        s.phase = Impl::Phase::Handshake;
        s.event("tls", "TLS established");
        s.send_ehlo();
    });
}

ClientOutput ClientSession::continue_body() {
    return run(*impl_, [](Impl& s) {
        if (s.phase != Impl::Phase::Body) s.event("protocol", "continue_body without a body being sent");
        else s.body_step();
    });
}

ClientOutput ClientSession::send(ClientTransaction t) {
    return run(
        *impl_,
        [&](Impl& s) {
            const bool busy = s.txn.has_value() || s.phase == Impl::Phase::Closed || s.phase == Impl::Phase::Quit ||
                              s.quit_requested;
            if (busy || !t.message) {
                // Not a server's answer: the caller misused the session. Deferred, never bounced.
                TransactionResult res;
                const Reply r(451, "4.3.0", busy ? "connection busy or closed" : "no message to send");
                for (size_t i = 0; i < t.envelope.recipients.size(); ++i)
                    res.recipients.push_back(RecipientResult{i, RecipientStatus::Deferred, r, false, "busy"});
                s.out->result = std::move(res);
                if (s.phase == Impl::Phase::Closed) s.out->action = ClientAction::Close;
                return;
            }
            s.txn = std::move(t);
            s.outcome.assign(s.txn->envelope.recipients.size(), std::nullopt);
            if (s.phase == Impl::Phase::Ready) s.start_txn();
        },
        false);
}

ClientOutput ClientSession::quit() {
    return run(*impl_, [](Impl& s) {
        s.quit_requested = true;
        if (s.phase == Impl::Phase::Ready) s.become_ready();
    });
}

ClientOutput ClientSession::connection_lost() {
    return run(*impl_, [](Impl& s) { end_without_reply(s, "lost connection with server"); });
}

ClientOutput ClientSession::timeout() {
    return run(*impl_, [](Impl& s) { end_without_reply(s, "timeout waiting for the server"); });
}

std::chrono::milliseconds ClientSession::read_timeout() const {
    const auto& l = impl_->cfg.limits;
    if (impl_->expected.empty()) return l.command_timeout;
    const auto& e = impl_->expected.front();
    switch (e.what) {
        case Impl::Expect::Greeting: return l.greeting_timeout;
        case Impl::Expect::Data: return l.data_init_timeout;
        case Impl::Expect::Dot:
        case Impl::Expect::DotDiscard: return l.data_end_timeout;
        case Impl::Expect::Bdat: return e.last ? l.data_end_timeout : l.command_timeout;
        default: return l.command_timeout;
    }
}

bool ClientSession::ready() const { return impl_->phase == Impl::Phase::Ready && !impl_->txn; }
bool ClientSession::closed() const { return impl_->phase == Impl::Phase::Closed; }
bool ClientSession::tls_active() const { return impl_->tls_on; }
bool ClientSession::authenticated() const { return impl_->authed; }
const Capabilities& ClientSession::capabilities() const { return impl_->caps; }
unsigned ClientSession::transactions() const { return impl_->done_txns; }

}  // namespace petrel::smtp
