// smtp/session_mail.cpp — MAIL FROM and RCPT TO: sequence, syntax, parameters, limits, policy.
//
// RFC 5321 §4.1.1.2-3, §4.1.4, §4.5.3.1.8 (recipients: 452 4.5.3); RFC 1870 SIZE (552 5.3.4);
// RFC 6152 / RFC 3030 BODY; RFC 6531 SMTPUTF8 (553 5.6.7 for a non-ASCII path without it);
// RFC 3461 §4 RET, ENVID, NOTIFY, ORCPT; RFC 4954 §5 AUTH=; RFC 5321 §4.1.1.11 / RFC 1869 §6
// (555 5.5.4 for an unknown parameter). Paths are parsed by mail/address.h.
#include "base/escape.h"
#include "base/number.h"
#include "mail/address.h"
#include "mail/domain.h"
#include "mail/esmtp_params.h"
#include "mail/xtext.h"
#include "smtp/session_impl.h"

namespace petrel::smtp {
namespace {

const Reply kSyntax(501, "5.5.4", "Error: syntax error in parameters or arguments");
const Reply kUnknownParam(555, "5.5.4", "Error: unsupported parameter");

Reply path_error(mail::AddressError e, bool sender) {
    const char* enh = sender ? "5.1.7" : "5.1.3";  // RFC 3463: bad sender / destination syntax
    switch (e) {
        case mail::AddressError::Utf8NotAllowed:
            return Reply(553, "5.6.7", "Error: non-ASCII address requires SMTPUTF8");
        case mail::AddressError::NullNotAllowed:
            return Reply(501, enh, "Error: null address not allowed here");
        case mail::AddressError::PathTooLong:
        case mail::AddressError::LocalTooLong:
        case mail::AddressError::DomainTooLong:
            return Reply(501, enh, std::string("Error: address too long (") + mail::to_string(e) + ")");
        default:
            return Reply(501, enh, std::string("Error: bad address syntax (") + mail::to_string(e) + ")");
    }
}

// "FROM:" / "TO:" then the path; tolerates spaces after the colon, as most servers do.
std::optional<std::string_view> after_keyword(std::string_view arg, std::string_view keyword) {
    if (!starts_with_ci(arg, keyword)) return std::nullopt;
    arg.remove_prefix(keyword.size());
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    if (arg.empty() || arg.front() != '<') return std::nullopt;
    return arg;
}

// RFC 3461 §4.1: NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY.
std::optional<mail::Notify> parse_notify(std::string_view v) {
    mail::Notify n;
    n.specified = true;
    size_t pos = 0;
    while (true) {
        const size_t comma = v.find(',', pos);
        std::string_view item = v.substr(pos, comma == std::string_view::npos ? v.npos : comma - pos);
        if (equals_ci(item, "NEVER")) n.never = true;
        else if (equals_ci(item, "SUCCESS")) n.success = true;
        else if (equals_ci(item, "FAILURE")) n.failure = true;
        else if (equals_ci(item, "DELAY")) n.delay = true;
        else return std::nullopt;
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    if (n.never && (n.success || n.failure || n.delay)) return std::nullopt;
    return n;
}

// RFC 3461 §4.2: ORCPT=addr-type ";" xtext, at most 500 characters.
std::optional<std::string> parse_orcpt(std::string_view v) {
    if (v.size() > 500) return std::nullopt;
    const size_t semi = v.find(';');
    if (semi == 0 || semi == std::string_view::npos) return std::nullopt;
    std::string_view type = v.substr(0, semi);
    for (char c : type) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return std::nullopt;
    }
    auto addr = mail::xtext_decode(v.substr(semi + 1));
    if (!addr || addr->empty()) return std::nullopt;
    for (unsigned char c : *addr)
        if (c < 0x20 || c == 0x7f) return std::nullopt;
    return std::string(type) + ";" + *addr;
}

}  // namespace

void ServerSession::Impl::cmd_mail(const Command& cmd) {
    if (!helo_done) return reject(Reply(503, "5.5.1", "Error: send EHLO/HELO first"));
    if (in_transaction) return reject(Reply(503, "5.5.1", "Error: nested MAIL command"));
    // RFC 3207 §4 / RFC 6409 §4.3 / RFC 4954 §6: a listener may require TLS and AUTH first.
    if (cfg.require_tls && !facts.tls) return reject(Reply(530, "5.7.0", "Must issue a STARTTLS command first"));
    if (cfg.require_auth && facts.auth_user.empty()) return reject(Reply(530, "5.7.0", "Authentication required"));
    auto rest = after_keyword(cmd.arg, "FROM:");
    if (!rest) return reject(Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>"));

    // Find where the path ends with the widest syntax, read the parameters (SMTPUTF8 decides
    // whether UTF-8 is allowed), then parse the path for real.
    mail::PathOptions opts;
    opts.allow_null = true;
    opts.allow_utf8 = true;
    auto probe = mail::parse_path(*rest, opts);
    if (!probe.ok()) return reject(path_error(probe.error, true));
    auto params = mail::parse_esmtp_params(rest->substr(probe.consumed), true);
    if (!params.ok()) return reject(kSyntax);
    if (!params.params.empty() && !facts.esmtp) return reject(kUnknownParam);  // RFC 1869 §6

    mail::MailParams mp;
    for (const auto& p : params.params) {
        const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
        if (p.keyword == "SIZE") {
            auto n = p.value ? base::parse_decimal_u64(v) : std::nullopt;
            if (!n) return reject(kSyntax);
            if (*n > cfg.limits.max_message_size)
                return reject(Reply(552, "5.3.4", "Error: message size exceeds fixed maximum message size"));
            mp.size = *n;
        } else if (p.keyword == "BODY") {
            if (equals_ci(v, "7BIT")) mp.body = mail::BodyType::SevenBit;
            else if (equals_ci(v, "8BITMIME")) mp.body = mail::BodyType::EightBitMime;
            else if (equals_ci(v, "BINARYMIME")) mp.body = mail::BodyType::BinaryMime;
            else return reject(kSyntax);
        } else if (p.keyword == "SMTPUTF8") {
            if (p.value) return reject(kSyntax);
            mp.smtputf8 = true;
        } else if (p.keyword == "RET") {
            if (equals_ci(v, "FULL")) mp.ret = mail::DsnRet::Full;
            else if (equals_ci(v, "HDRS")) mp.ret = mail::DsnRet::Headers;
            else return reject(kSyntax);
        } else if (p.keyword == "ENVID") {
            auto d = p.value && v.size() <= 100 ? mail::xtext_decode(v) : std::nullopt;  // RFC 3461 §4.4
            if (!d) return reject(kSyntax);
            mp.envid = std::move(*d);
        } else if (p.keyword == "AUTH") {
            // RFC 4954 §5: an identity is kept only from an authenticated client; otherwise
            // the server behaves as if AUTH=<> had been given.
            if (!p.value) return reject(kSyntax);
            std::string decoded = "<>";
            if (v != "<>") {
                auto d = mail::xtext_decode(v);
                if (!d) return reject(kSyntax);
                decoded = std::move(*d);
            }
            mp.auth = facts.auth_user.empty() ? std::string("<>") : decoded;
        } else {
            return reject(kUnknownParam);
        }
    }

    mail::Path path;
    if (mp.smtputf8) {
        path = std::move(probe.path);
    } else {
        opts.allow_utf8 = false;
        auto strict = mail::parse_path(*rest, opts);
        if (!strict.ok()) return reject(path_error(strict.error, true));
        path = std::move(strict.path);
    }
    if (path.had_source_route) event("protocol", "source route in MAIL FROM ignored");
    if (auto r = policy.check_mail(facts, path.mailbox)) return reject(*r);
    in_transaction = true;
    envelope = mail::Envelope{};
    envelope.sender = std::move(path.mailbox);
    envelope.params = std::move(mp);
    send(Reply(250, "2.1.0", "Ok"));
}

void ServerSession::Impl::cmd_rcpt(const Command& cmd) {
    if (!in_transaction) return reject(Reply(503, "5.5.1", "Error: need MAIL command"));
    auto rest = after_keyword(cmd.arg, "TO:");
    if (!rest) return reject(Reply(501, "5.5.4", "Syntax: RCPT TO:<address>"));
    mail::PathOptions opts;
    opts.allow_utf8 = envelope.params.smtputf8;
    opts.allow_postmaster = true;  // RFC 5321 §4.1.1.3
    auto parsed = mail::parse_path(*rest, opts);
    if (!parsed.ok()) return reject(path_error(parsed.error, false));
    auto params = mail::parse_esmtp_params(rest->substr(parsed.consumed), envelope.params.smtputf8);
    if (!params.ok()) return reject(kSyntax);
    if (!params.params.empty() && !facts.esmtp) return reject(kUnknownParam);

    mail::Recipient rcpt;
    for (const auto& p : params.params) {
        const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
        if (p.keyword == "NOTIFY") {
            auto n = p.value ? parse_notify(v) : std::nullopt;
            if (!n) return reject(kSyntax);
            rcpt.notify = *n;
        } else if (p.keyword == "ORCPT") {
            auto o = p.value ? parse_orcpt(v) : std::nullopt;
            if (!o) return reject(kSyntax);
            rcpt.orcpt = std::move(*o);
        } else {
            return reject(kUnknownParam);
        }
    }
    if (envelope.recipients.size() >= cfg.limits.max_recipients) {
        // RFC 5321 §4.5.3.1.8: 452 for too many recipients; the client sends the rest later.
        // Not counted as a client error: a large legitimate list must not end the session.
        return reject(Reply(452, "4.5.3", "Error: too many recipients"), false);
    }
    if (parsed.path.had_source_route) event("protocol", "source route in RCPT TO ignored");
    mail::Mailbox mailbox = std::move(*parsed.path.mailbox);
    if (parsed.path.bare_postmaster) {
        // "<Postmaster>" names this server's postmaster (RFC 5321 §4.1.1.3, §4.5.1).
        auto d = mail::normalize_domain(cfg.hostname, false);
        mailbox.domain = d.ok() ? d.domain : cfg.hostname;
    }
    if (auto r = policy.check_rcpt(facts, envelope.sender, mailbox)) return reject(*r);
    rcpt.mailbox = std::move(mailbox);
    envelope.recipients.push_back(std::move(rcpt));
    send(Reply(250, "2.1.5", "Ok"));
}

}  // namespace petrel::smtp
