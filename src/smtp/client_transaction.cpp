// smtp/client_transaction.cpp — one mail transaction of the client session: RSET between
// transactions (RFC 5321 §4.1.1.5), MAIL with its parameters, RCPT per recipient, DATA with
// the wire-safe encoding (mail/wire_encoding.h: CRLF lines, dot-stuffing, §4.5.2) or BDAT
// chunks for BINARYMIME (RFC 3030), and the per-recipient results.
//
// Checked before anything is sent (nothing leaves when these fail): SIZE (RFC 1870 §6:
// 552 5.3.4), SMTPUTF8 (RFC 6531 §3.2: 554 5.6.7), BINARYMIME without CHUNKING (RFC 3030 §3:
// 554 5.6.3). With PIPELINING (RFC 2920 §3.1) RSET, MAIL, every RCPT and DATA go as one group
// with DATA last; if DATA is accepted although no recipient was, a lone "." ends it (§3.1).
// An 8BITMIME body to a server without 8BITMIME goes as is, without BODY= (as Postfix with
// no MIME conversion; RFC 6152 §3 would allow a downgrade or a bounce: docs/smtp-protocol.md).
#include "base/escape.h"
#include "mail/utf8.h"
#include "mail/xtext.h"
#include "smtp/client_impl.h"

namespace petrel::smtp {
namespace {

bool is_2xx(const Reply& r) { return r.code / 100 == 2; }

std::string mail_line(const ClientTransaction& t, const Capabilities& caps, bool authed, bool bdat) {
    const mail::Envelope& env = t.envelope;
    std::string line = "MAIL FROM:<" + (env.sender ? env.sender->str() : std::string()) + ">";
    if (caps.size_advertised) line += " SIZE=" + std::to_string(t.message->size());  // RFC 1870 §3
    if (bdat) line += " BODY=BINARYMIME";
    else if (env.params.body != mail::BodyType::SevenBit && caps.eightbitmime) line += " BODY=8BITMIME";
    if (env.params.smtputf8 && caps.smtputf8) line += " SMTPUTF8";
    if (caps.dsn) {  // RFC 3461 §4: only to a server that offers DSN
        if (env.params.ret == mail::DsnRet::Full) line += " RET=FULL";
        if (env.params.ret == mail::DsnRet::Headers) line += " RET=HDRS";
        if (!env.params.envid.empty()) line += " ENVID=" + mail::xtext_encode(env.params.envid);
    }
    // RFC 4954 §5: AUTH= passes on the submitter identity we were given, and only then (as
    // Postfix does by default): sending AUTH=<> unasked is legal but some servers (aiosmtpd)
    // refuse the parameter, and it tells the relay nothing.
    const std::string& a = env.params.auth;
    if (authed && !caps.auth.empty() && !a.empty()) {
        line += " AUTH=" + (a == "<>" ? std::string("<>") : mail::xtext_encode(a));
    }
    return line;
}

std::string rcpt_line(const mail::Recipient& r, const Capabilities& caps) {
    std::string line = "RCPT TO:<" + r.mailbox.str() + ">";
    if (!caps.dsn) return line;
    if (r.notify.specified) {
        std::string n;
        if (r.notify.never) n = "NEVER";
        else {
            if (r.notify.success) n += "SUCCESS";
            if (r.notify.failure) n += n.empty() ? "FAILURE" : ",FAILURE";
            if (r.notify.delay) n += n.empty() ? "DELAY" : ",DELAY";
        }
        if (!n.empty()) line += " NOTIFY=" + n;
    }
    const size_t semi = r.orcpt.find(';');
    if (semi != std::string::npos && semi > 0)  // RFC 3461 §4.2: addr-type ";" xtext
        line += " ORCPT=" + r.orcpt.substr(0, semi) + ";" + mail::xtext_encode(r.orcpt.substr(semi + 1));
    return line;
}

bool envelope_is_ascii(const mail::Envelope& env) {
    if (env.sender && !mail::is_ascii(env.sender->str())) return false;
    for (const auto& r : env.recipients)
        if (!mail::is_ascii(r.mailbox.str())) return false;
    return true;
}

}  // namespace

void ClientSession::Impl::set_outcome(size_t i, const Reply& r, bool from_server, std::string stage) {
    if (i >= outcome.size() || outcome[i]) return;
    outcome[i] = RecipientResult{i, status_of(r), r, from_server, std::move(stage)};
}

void ClientSession::Impl::finish_txn() {
    TransactionResult res;
    for (size_t i = 0; i < outcome.size(); ++i) {
        if (outcome[i]) res.recipients.push_back(std::move(*outcome[i]));
        else res.recipients.push_back(RecipientResult{i, RecipientStatus::Deferred,
                                                      Reply(451, "4.3.0", "no result"), false, "internal"});
    }
    out->result = std::move(res);
    txn.reset();
    cmds.clear();
    outcome.clear();
    accepted.clear();
    accepted_count = 0;
    ++done_txns;
}

void ClientSession::Impl::refuse_all(const Reply& r, std::string stage) {
    event("protocol", "not sent: " + std::to_string(r.code) + " " + r.enhanced + " " + r.lines.front());
    for (size_t i = 0; i < outcome.size(); ++i) set_outcome(i, r, false, stage);
    finish_txn();
    become_ready();
}

void ClientSession::Impl::start_txn() {
    phase = Phase::Txn;
    const mail::Envelope& env = txn->envelope;
    const size_t n = env.recipients.size();
    outcome.assign(n, std::nullopt);
    accepted.assign(n, false);
    accepted_count = 0;
    mail_failed = false;
    body_sent = 0;
    encoder = mail::WireEncoder{};
    cmds.clear();
    const uint64_t size = txn->message->size();
    if (caps.size_limit != 0 && size > caps.size_limit) {
        refuse_all(Reply(552, "5.3.4", "message size " + std::to_string(size) + " exceeds size limit " +
                                           std::to_string(caps.size_limit) + " of server"),
                   "SIZE check");
        return;
    }
    if (!caps.smtputf8 && (txn->requires_smtputf8 || !envelope_is_ascii(env))) {
        refuse_all(Reply(554, "5.6.7", "SMTPUTF8 is required, but was not offered by host"), "SMTPUTF8 check");
        return;
    }
    use_bdat = env.params.body == mail::BodyType::BinaryMime;
    if (use_bdat && !(caps.chunking && caps.binarymime)) {
        refuse_all(Reply(554, "5.6.3", "BINARYMIME is required, but CHUNKING and BINARYMIME were not offered by host"),
                   "BODY check");
        return;
    }
    if (n == 0) {
        finish_txn();
        become_ready();
        return;
    }
    if (need_rset) cmds.push_back({Cmd::Rset});
    cmds.push_back({Cmd::Mail});
    for (size_t i = 0; i < n; ++i) cmds.push_back({Cmd::Rcpt, i});
    cmds.push_back({use_bdat ? Cmd::Bdat : Cmd::Data});
    if (caps.pipelining) {
        // RFC 2920 §3.1: one group; DATA last. BDAT waits for the RCPT replies (no body is
        // sent for a transaction without recipients).
        while (!cmds.empty() && cmds.front().cmd != Cmd::Bdat) {
            const Pending p = cmds.front();
            cmds.pop_front();
            emit(p);
        }
    } else {
        advance();
    }
}

void ClientSession::Impl::emit(const Pending& p) {
    switch (p.cmd) {
        case Cmd::Rset:
            write("RSET", {Expect::Rset});
            need_rset = false;
            return;
        case Cmd::Mail:
            write(mail_line(*txn, caps, authed, use_bdat), {Expect::Mail});
            need_rset = true;
            return;
        case Cmd::Rcpt:
            write(rcpt_line(txn->envelope.recipients[p.index], caps), {Expect::Rcpt, p.index});
            return;
        case Cmd::Data:
            write("DATA", {Expect::Data});
            return;
        case Cmd::Bdat:
            bdat_step();
            return;
    }
}

// Called after each reply of the transaction: sends the next command (one at a time without
// PIPELINING) or, when every reply is in, finishes the transaction.
void ClientSession::Impl::advance() {
    if (phase != Phase::Txn || !expected.empty()) return;
    if (!cmds.empty() && !mail_failed) {
        const Pending p = cmds.front();
        const bool body_cmd = p.cmd == Cmd::Data || p.cmd == Cmd::Bdat;
        if (!body_cmd || accepted_count > 0) {
            cmds.pop_front();
            emit(p);
            return;
        }
    }
    finish_txn();
    become_ready();
}

void ClientSession::Impl::on_txn_reply(const Expected& e, const Reply& r) {
    switch (e.what) {
        case Expect::Rset:
            if (!is_2xx(r)) {
                fail(r, true, "RSET", false, true);
                return;
            }
            break;
        case Expect::Mail:
            if (!is_2xx(r)) {
                mail_failed = true;
                for (size_t i = 0; i < outcome.size(); ++i) set_outcome(i, r, true, "MAIL FROM");
            }
            break;
        case Expect::Rcpt:
            out->rcpt_replies.push_back(RcptReply{e.index, r});
            if (e.index < outcome.size() && !outcome[e.index]) {
                if (is_2xx(r)) {
                    accepted[e.index] = true;
                    ++accepted_count;
                } else {
                    set_outcome(e.index, r, true, "RCPT TO");
                }
            }
            break;
        case Expect::Data:
            if (r.code == 354) {
                if (mail_failed || accepted_count == 0) {
                    write(".", {Expect::DotDiscard});  // RFC 2920 §3.1
                    return;
                }
                phase = Phase::Body;
                body_step();
                return;
            }
            for (size_t i = 0; i < accepted.size(); ++i)
                if (accepted[i]) set_outcome(i, r.code / 100 == 2 ? Reply(451, "4.5.0", "unexpected reply to DATA") : r,
                                             r.code / 100 != 2, "DATA");
            break;
        case Expect::Dot:
            for (size_t i = 0; i < accepted.size(); ++i)
                if (accepted[i]) set_outcome(i, r, true, "end of data");
            break;
        case Expect::DotDiscard:
            break;
        case Expect::Bdat:
            if (is_2xx(r) && !e.last) {
                bdat_step();
                return;
            }
            for (size_t i = 0; i < accepted.size(); ++i)
                if (accepted[i]) set_outcome(i, r, true, e.last ? "end of data" : "BDAT");
            break;
        default:
            break;
    }
    advance();
}

void ClientSession::Impl::body_step() {
    // Encode slices until this output holds about one slice of wire bytes or the message ends.
    const size_t start = out->wire.size();
    while (out->wire.size() - start < cfg.limits.body_slice) {
        const auto slice = txn->message->read(cfg.limits.body_slice);
        if (!slice) {
            // No final dot: the server must discard the partial message.
            fail(Reply(451, "4.3.0", "cannot read the queued message"), false, "DATA", false, false);
            return;
        }
        if (slice->empty()) {
            encoder.finish(out->wire);
            expected.push_back({Expect::Dot});
            event("command", "<message: " + std::to_string(body_sent) + " octets> .");
            phase = Phase::Txn;
            out->action = ClientAction::None;
            if (!inbuf.empty()) {
                const std::string buffered = std::move(inbuf);
                std::string().swap(inbuf);
                process(buffered);
            }
            return;
        }
        encoder.encode(*slice, out->wire);
        body_sent += slice->size();
    }
    out->action = ClientAction::SendBody;
}

void ClientSession::Impl::bdat_step() {
    const auto slice = txn->message->read(cfg.limits.body_slice);
    if (!slice) {
        fail(Reply(451, "4.3.0", "cannot read the queued message"), false, "BDAT", false, false);
        return;
    }
    const bool last = slice->empty() || body_sent + slice->size() >= txn->message->size();
    const std::string cmd = "BDAT " + std::to_string(slice->size()) + (last ? " LAST" : "");
    out->wire += cmd;
    out->wire += "\r\n";
    out->wire.append(*slice);  // RFC 3030 §2: exactly that many octets, no transparency
    body_sent += slice->size();
    expected.push_back({Expect::Bdat, 0, last});
    event("command", cmd);
}

}  // namespace petrel::smtp
