// mailauth/dmarc/author_domain.cpp — the RFC5322.From domain (RFC 7489 §6.6.1).
//
// Trust: the header is hostile. The From field is read with the RFC 5322 §3.4 mailbox syntax
// (display names, quoted strings, nested comments, angle-addr, and the RFC 6854 group form),
// far enough to find each address's domain; one pass over the field, no recursion. A message
// whose From names zero or several addresses, or which has zero or several From fields, gets
// an error: RFC 7489 §6.6.1 leaves such messages to local policy, and the caller decides.
// Domains go through mail::normalize_domain (IDNA → lower-case A-labels); address literals
// ("user@[192.0.2.1]") have no DNS policy and are an error.
#include <string>
#include <vector>

#include "mail/domain.h"
#include "mailauth/dmarc/dmarc.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dmarc {

namespace {

constexpr size_t kMaxAddresses = 100;  // more is never a single author; stop counting early

// One mailbox as collected by the scanner: the text outside comments, split into what was
// inside "<...>" and what was not, and where the last unquoted '@' of each was.
struct MailboxText {
    std::string bare, angle;
    size_t bare_at = std::string::npos, angle_at = std::string::npos;
    int angle_count = 0;
    bool empty() const { return angle_count == 0 && bare.find_first_not_of(" \t\r\n") == std::string::npos; }
};

// The addresses of a From field body, or an error.
std::vector<MailboxText> scan_mailboxes(std::string_view v, std::string& error) {
    std::vector<MailboxText> out;
    MailboxText cur;
    int comment_depth = 0;
    bool in_quote = false, in_angle = false, in_group = false;
    auto finish = [&]() {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur = MailboxText{};
    };
    for (size_t i = 0; i < v.size() && out.size() <= kMaxAddresses; ++i) {
        char c = v[i];
        std::string& buf = in_angle ? cur.angle : cur.bare;
        if (comment_depth > 0) {
            if (c == '\\') ++i;  // quoted-pair
            else if (c == '(') ++comment_depth;
            else if (c == ')') --comment_depth;
            continue;
        }
        if (in_quote) {
            if (c == '\\' && i + 1 < v.size()) {
                buf += v[++i];
            } else if (c == '"') {
                in_quote = false;
                buf += c;
            } else {
                buf += c;
            }
            continue;
        }
        switch (c) {
            case '(': ++comment_depth; break;
            case '"': in_quote = true; buf += c; break;
            case '<':
                if (in_angle) { error = "nested '<' in From"; return {}; }
                in_angle = true;
                ++cur.angle_count;
                cur.angle.clear();
                cur.angle_at = std::string::npos;
                break;
            case '>':
                if (!in_angle) { error = "unbalanced '>' in From"; return {}; }
                in_angle = false;
                break;
            case ',':
                if (in_angle) buf += c;  // obs-route inside angle brackets: "<@a,@b:u@d>"
                else finish();
                break;
            case ':':
                if (in_angle) { buf += c; break; }
                if (in_group || cur.angle_count > 0) { error = "unexpected ':' in From"; return {}; }
                in_group = true;  // RFC 6854 group: what came before was its display name
                cur = MailboxText{};
                break;
            case ';':
                if (in_group && !in_angle) {
                    finish();
                    in_group = false;
                } else {
                    buf += c;
                }
                break;
            case '@':
                (in_angle ? cur.angle_at : cur.bare_at) = buf.size();
                buf += c;
                break;
            default: buf += c;
        }
    }
    if (out.size() > kMaxAddresses) {
        error = "several addresses in From";
        return {};
    }
    if (comment_depth > 0 || in_quote || in_angle) {
        error = "unterminated comment, quote or '<' in From";
        return {};
    }
    finish();
    return out;
}

std::string strip_spaces(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
    }
    return out;
}

}  // namespace

AuthorDomain author_domain(std::string_view message) {
    AuthorDomain out;
    // Only the header section matters; bring LF-only text (files, stdin) to CRLF first.
    size_t end = message.find("\r\n\r\n");
    size_t lf_end = message.find("\n\n");
    if (lf_end != std::string_view::npos && (end == std::string_view::npos || lf_end < end)) end = lf_end;
    std::string header = to_crlf(message.substr(0, end == std::string_view::npos ? message.size() : end + 2));
    if (header.size() < 2 || header.compare(header.size() - 2, 2, "\r\n") != 0) header += "\r\n";

    std::string error;
    auto parsed = parse_message(header, error);
    if (!parsed) {
        out.error = "header unparseable: " + error;
        return out;
    }
    const HeaderField* from = nullptr;
    for (const auto& f : parsed->fields) {
        if (!iequals(f.name, "From")) continue;
        if (from) {
            out.error = "several From fields";
            return out;
        }
        from = &f;
    }
    if (!from) {
        out.error = "no From field";
        return out;
    }
    auto boxes = scan_mailboxes(from->value, error);
    if (!error.empty()) {
        out.error = error;
        return out;
    }
    if (boxes.empty()) {
        out.error = "no address in From";
        return out;
    }
    if (boxes.size() > 1) {
        out.error = "several addresses in From";
        return out;
    }
    const MailboxText& box = boxes.front();
    if (box.angle_count > 1) {
        out.error = "several angle-addrs in From";
        return out;
    }
    const std::string& addr = box.angle_count == 1 ? box.angle : box.bare;
    size_t at = box.angle_count == 1 ? box.angle_at : box.bare_at;
    if (at == std::string::npos) {
        out.error = "From address has no domain";
        return out;
    }
    std::string domain = strip_spaces(std::string_view(addr).substr(at + 1));
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (domain.empty() || domain.front() == '[') {
        out.error = domain.empty() ? "From address has no domain" : "From domain is an address literal";
        return out;
    }
    auto normalized = mail::normalize_domain(domain, /*allow_utf8=*/true);
    if (!normalized.ok()) {
        out.error = "From domain is not a valid domain";
        return out;
    }
    out.domain = std::move(normalized.domain);
    return out;
}

}  // namespace petrel::mailauth::dmarc
