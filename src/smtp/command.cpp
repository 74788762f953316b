// smtp/command.cpp — see command.h (RFC 5321 §4.1.1).
#include "smtp/command.h"

namespace petrel::smtp {
namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

struct VerbName {
    std::string_view name;
    Verb verb;
};

constexpr VerbName kVerbs[] = {
    {"HELO", Verb::Helo}, {"EHLO", Verb::Ehlo}, {"MAIL", Verb::Mail}, {"RCPT", Verb::Rcpt},
    {"DATA", Verb::Data}, {"BDAT", Verb::Bdat}, {"RSET", Verb::Rset}, {"NOOP", Verb::Noop},
    {"QUIT", Verb::Quit}, {"VRFY", Verb::Vrfy}, {"EXPN", Verb::Expn}, {"HELP", Verb::Help},
    {"STARTTLS", Verb::StartTls}, {"AUTH", Verb::Auth},
    // RFC 9112 §3 / RFC 9110 §9 methods, and header lines a browser or proxy would send.
    {"GET", Verb::Http}, {"POST", Verb::Http}, {"HEAD", Verb::Http}, {"PUT", Verb::Http},
    {"CONNECT", Verb::Http}, {"OPTIONS", Verb::Http}, {"DELETE", Verb::Http},
    {"PATCH", Verb::Http}, {"TRACE", Verb::Http}, {"HOST:", Verb::Http},
    {"USER-AGENT:", Verb::Http},
};

}  // namespace

bool equals_ci(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (upper(a[i]) != upper(b[i])) return false;
    return true;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && equals_ci(s.substr(0, prefix.size()), prefix);
}

Command parse_command(std::string_view line) {
    Command cmd;
    const size_t sp = line.find(' ');
    cmd.name = line.substr(0, sp);
    if (sp != std::string_view::npos) {
        std::string_view arg = line.substr(sp + 1);
        while (!arg.empty() && (arg.back() == ' ' || arg.back() == '\t')) arg.remove_suffix(1);
        cmd.arg = arg;
    }
    for (const auto& v : kVerbs) {
        if (equals_ci(cmd.name, v.name)) {
            cmd.verb = v.verb;
            break;
        }
    }
    return cmd;
}

}  // namespace petrel::smtp
