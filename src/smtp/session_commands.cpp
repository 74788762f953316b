// smtp/session_commands.cpp — dispatch and the simple commands: EHLO, HELO, RSET, NOOP, QUIT,
// VRFY, EXPN, HELP, STARTTLS, and the cross-protocol (HTTP) guard.
//
// RFC 5321 §4.1.1.1 (EHLO/HELO), §4.1.1.5-10, §4.1.4 (sequencing, 503 5.5.1), §4.2.4 (500/502),
// RFC 1869 / RFC 5321 §2.2 (EHLO keywords), RFC 2920 (PIPELINING), RFC 3207 (STARTTLS).
#include "base/escape.h"
#include "smtp/session_impl.h"

namespace petrel::smtp {
namespace {

const Reply kSyntax(501, "5.5.4", "Error: syntax error in parameters or arguments");

}  // namespace

Reply ServerSession::Impl::ehlo_reply() const {
    // RFC 2034 §3: the EHLO response carries no enhanced status codes.
    std::vector<std::string> lines;
    lines.push_back(cfg.hostname);
    lines.emplace_back("PIPELINING");                                         // RFC 2920
    lines.push_back("SIZE " + std::to_string(cfg.limits.max_message_size));  // RFC 1870
    lines.emplace_back("8BITMIME");                                           // RFC 6152
    lines.emplace_back("SMTPUTF8");                                           // RFC 6531
    lines.emplace_back("ENHANCEDSTATUSCODES");                                // RFC 2034
    lines.emplace_back("CHUNKING");                                           // RFC 3030
    lines.emplace_back("BINARYMIME");                                         // RFC 3030
    lines.emplace_back("DSN");                                                // RFC 3461
    if (cfg.tls_available && !facts.tls) lines.emplace_back("STARTTLS");     // RFC 3207
    if (auth_allowed()) lines.emplace_back("AUTH PLAIN LOGIN");               // RFC 4954
    return Reply(250, "", std::move(lines));
}

void ServerSession::Impl::dispatch(const Command& cmd, std::string_view line) {
    switch (cmd.verb) {
        case Verb::Ehlo:
            cmd_ehlo(cmd, true);
            return;
        case Verb::Helo:
            cmd_ehlo(cmd, false);
            return;
        case Verb::Mail:
            cmd_mail(cmd);
            return;
        case Verb::Rcpt:
            cmd_rcpt(cmd);
            return;
        case Verb::Data:
            cmd_data(cmd);
            return;
        case Verb::Bdat:
            cmd_bdat(cmd);
            return;
        case Verb::Auth:
            cmd_auth(cmd);
            return;
        case Verb::StartTls:
            cmd_starttls(cmd, more_input_after_line);
            return;
        case Verb::Rset:
            if (!cmd.arg.empty()) return reject(kSyntax);
            reset_transaction();
            send(Reply(250, "2.0.0", "Ok"));
            return;
        case Verb::Noop:  // RFC 5321 §4.1.1.9: an argument is allowed and ignored
            send(Reply(250, "2.0.0", "Ok"));
            return;
        case Verb::Quit:
            close_with(Reply(221, "2.0.0", "Bye"));
            return;
        case Verb::Vrfy:  // RFC 5321 §3.5.3: 252 when the server will not verify
            if (cmd.arg.empty()) return reject(kSyntax);
            send(Reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery"));
            return;
        case Verb::Expn:
            reject(Reply(502, "5.5.1", "Error: command not implemented"));
            return;
        case Verb::Help:
            send(Reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"));
            return;
        case Verb::Http:
            // A browser or proxy talking to the SMTP port (cross-protocol attack): refuse and close.
            event("protocol", "HTTP request on the SMTP port: " + base::escape_for_log(line, 80));
            ++errors;
            close_with(Reply(554, "5.7.0", "Error: this is an SMTP server, HTTP not accepted"));
            return;
        case Verb::Unknown:
            reject(Reply(500, "5.5.2", "Error: command not recognized"));
            return;
    }
}

void ServerSession::Impl::cmd_ehlo(const Command& cmd, bool extended) {
    if (cmd.arg.empty()) return reject(Reply(501, "5.5.4", extended ? "Syntax: EHLO hostname" : "Syntax: HELO hostname"));
    for (unsigned char c : cmd.arg)
        if (c < 0x20 || c > 0x7e) return reject(Reply(501, "5.5.4", "Error: invalid characters in hostname"));
    // RFC 5321 §4.1.4: EHLO/HELO later in a session is an implicit RSET.
    reset_transaction();
    helo_done = true;
    facts.esmtp = extended;
    facts.helo = std::string(cmd.arg);
    if (extended) send(ehlo_reply());
    else send(Reply(250, "", cfg.hostname));
}

void ServerSession::Impl::cmd_starttls(const Command& cmd, bool more_input) {
    if (!cmd.arg.empty()) return reject(Reply(501, "5.5.4", "Syntax: STARTTLS"));
    if (facts.tls) return reject(Reply(503, "5.5.1", "Error: TLS already active"));
    if (!cfg.tls_available) return reject(Reply(502, "5.5.1", "Error: command not implemented"));
    if (more_input) {
        // RFC 3207 §4.2 and RFC 2920 §3.1: STARTTLS must end a pipelined group. Bytes after it
        // would be obeyed as if sent under TLS (CVE-2011-0411): refuse and disconnect instead.
        event("protocol", "pipelining after STARTTLS");
        ++errors;
        close_with(Reply(554, "5.5.1", "Error: pipelining after STARTTLS not allowed"));
        return;
    }
    reset_transaction();
    send(Reply(220, "2.0.0", "Ready to start TLS"));
    out->action = Action::StartTls;
    pending = Pending::StartTls;
}

}  // namespace petrel::smtp
