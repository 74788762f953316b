// smtp/command.h — splits one SMTP command line into its verb and argument.
//
// Trust: input is one peer line without its CRLF, already bounded by Limits::max_command_line
// (or max_auth_line for AUTH) and free of CR, LF and NUL (the session checks that first).
// RFC 5321 §4.1.1 (verbs are case-insensitive), §2.4. Lines that start like an HTTP request
// (RFC 9112 §3 request-line methods, or a "Host:" / "User-Agent:" header line) are classified
// as Verb::Http so that the session can close such cross-protocol connections, as Postfix's
// smtpd_forbidden_commands does.
#pragma once

#include <string_view>

namespace petrel::smtp {

enum class Verb {
    Helo, Ehlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Expn, Help, StartTls, Auth,
    Http,     // an HTTP request or header line
    Unknown,
};

struct Command {
    Verb verb = Verb::Unknown;
    std::string_view name;  // the verb as sent
    std::string_view arg;   // after the first space; trailing spaces and tabs removed
};

Command parse_command(std::string_view line);

// Case-insensitive ASCII prefix test, e.g. starts_with_ci(arg, "FROM:").
bool starts_with_ci(std::string_view s, std::string_view prefix);
bool equals_ci(std::string_view a, std::string_view b);

}  // namespace petrel::smtp
