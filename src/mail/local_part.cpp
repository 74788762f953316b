// mail/local_part.cpp — see local_part.h.
#include "mail/local_part.h"

namespace petrel::mail {

namespace {

constexpr size_t kMaxName = 64;  // RFC 5321 §4.5.3.1.1: the local part's own limit

// RFC 5321 §4.1.2: Quoted-string = DQUOTE *QcontentSMTP DQUOTE, quoted-pairSMTP = "\" char.
std::optional<std::string> unquote(std::string_view in) {
    if (in.size() < 2 || in.back() != '"') return std::nullopt;
    std::string out;
    for (size_t i = 1; i + 1 < in.size(); ++i) {
        char c = in[i];
        if (c == '\\') {
            if (i + 2 >= in.size()) return std::nullopt;  // a backslash escaping the closing quote
            c = in[++i];
        } else if (c == '"') {
            return std::nullopt;
        }
        out += c;
    }
    return out;
}

}  // namespace

std::optional<std::string> mailbox_name(std::string_view local_part) {
    std::string name;
    if (!local_part.empty() && local_part.front() == '"') {
        auto u = unquote(local_part);
        if (!u) return std::nullopt;
        name = std::move(*u);
    } else {
        name.assign(local_part);
    }
    if (name.empty() || name.size() > kMaxName) return std::nullopt;
    if (name.front() == '.' || name.find("..") != std::string::npos) return std::nullopt;
    for (char& c : name) {
        const auto u = static_cast<unsigned char>(c);
        // '"' too: a name must read back as itself (a leading '"' would be taken as quoting).
        if (u < 0x20 || u == 0x7f || c == '/' || c == '\\' || c == '"') return std::nullopt;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return name;
}

}  // namespace petrel::mail
