// mailauth/auth_results.cpp — building and scrubbing Authentication-Results (auth_results.h).
#include "mailauth/auth_results.h"

#include <cstring>

#include "mailauth/header_parser.h"

namespace petrel::mailauth {

namespace {

constexpr std::string_view kFieldName = "Authentication-Results";
constexpr size_t kFoldAt = 78;  // RFC 5322 §2.1.1: SHOULD; 998 is the MUST (each word ≤ ~410)

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// `s` without control characters, cut to at most kMaxValue octets, never inside a UTF-8
// sequence (a cut continuation octet would make the rest of the field invalid UTF-8).
std::string clean(std::string_view s) {
    std::string out;
    out.reserve(std::min(s.size(), kMaxValue));
    for (char ch : s) {
        if (is_control(static_cast<unsigned char>(ch))) continue;
        out += ch;
    }
    if (out.size() > kMaxValue) {
        size_t cut = kMaxValue;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
        out.resize(cut);
    }
    return out;
}

bool is_atext(unsigned char c) {  // RFC 5322 §3.2.3
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

bool is_dot_atom(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '.') {
            if (s[i + 1] == '.') return false;  // i + 1 < size: s.back() is not '.'
            continue;
        }
        if (!is_atext(c)) return false;
    }
    return true;
}

// RFC 6376 domain-name: sub-domain *("." sub-domain), letters, digits and hyphens.
bool is_domain_name(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || (c == '.' && s[i + 1] != '.');
        if (!ok) return false;
    }
    return true;
}

// Appends `word` to the field, folding before it when the line would pass kFoldAt. Folding
// puts CRLF + TAB where a space was (RFC 5322 §2.2.3), so unfolding gives the same text.
void append_word(std::string& out, size_t& line_len, std::string_view word) {
    if (line_len > 1 && line_len + 1 + word.size() > kFoldAt) {
        out += "\r\n\t";
        line_len = 1;
    } else if (line_len > 1) {
        out += ' ';
        ++line_len;
    }
    out += word;
    line_len += word.size();
}

}  // namespace

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f) return false;
        if (std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr) return false;
    }
    return true;
}

std::string ar_value(std::string_view s) {
    std::string v = clean(s);
    if (is_token(v)) return v;
    std::string out = "\"";
    for (char ch : v) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    out += '"';
    return out;
}

std::string ar_pvalue(std::string_view s) {
    std::string v = clean(s);
    if (v.size() == s.size()) {  // nothing dropped or cut: the bare forms are exact
        size_t at = v.rfind('@');
        if (at == std::string::npos) {
            if (is_domain_name(v)) return v;
        } else if ((at == 0 || is_dot_atom(std::string_view(v).substr(0, at))) &&
                   is_domain_name(std::string_view(v).substr(at + 1))) {
            return v;
        }
    }
    return ar_value(v);
}

std::string ar_comment(std::string_view s) {
    std::string v = clean(s);
    std::string out = "(";
    for (char ch : v) {
        if (ch == '(' || ch == ')' || ch == '\\') out += '\\';
        out += ch;
    }
    out += ')';
    return out;
}

std::string build_authentication_results(std::string_view authserv_id,
                                         const std::vector<ResultInfo>& results) {
    std::string out(kFieldName);
    out += ": ";
    out += ar_value(authserv_id);
    out += ';';
    if (results.empty()) {
        out += " none\r\n";  // §2.2 no-result
        return out;
    }
    for (size_t i = 0; i < results.size(); ++i) {
        const ResultInfo& r = results[i];
        out += "\r\n\t";  // one resinfo per line: readable, and the fold is always legal
        size_t line_len = 1;
        append_word(out, line_len, ar_value(r.method) + "=" + ar_value(r.result));
        if (!r.comment.empty()) append_word(out, line_len, ar_comment(r.comment));
        if (!r.reason.empty()) append_word(out, line_len, "reason=" + ar_value(r.reason));
        for (const Property& p : r.properties) {
            append_word(out, line_len, ar_value(p.name) + "=" + ar_pvalue(p.value));
        }
        if (i + 1 < results.size()) out += ';';
    }
    out += "\r\n";
    return out;
}

std::string authserv_id_of(std::string_view v) {
    size_t i = 0;
    // Skip CFWS: whitespace, line breaks of folding, and (nested) comments.
    for (size_t guard = 0; i < v.size() && guard < v.size() + 1; ++guard) {
        char c = v[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            ++i;
        } else if (c == '(') {
            int depth = 0;
            for (; i < v.size(); ++i) {
                if (v[i] == '\\') {
                    ++i;
                } else if (v[i] == '(') {
                    ++depth;
                } else if (v[i] == ')' && --depth == 0) {
                    ++i;
                    break;
                }
            }
        } else {
            break;
        }
    }
    if (i >= v.size()) return "";
    std::string id;
    if (v[i] == '"') {
        for (++i; i < v.size() && v[i] != '"'; ++i) {
            if (v[i] == '\\' && i + 1 < v.size()) ++i;
            if (v[i] != '\r' && v[i] != '\n') id += v[i];
        }
        return id;
    }
    for (; i < v.size(); ++i) {
        auto c = static_cast<unsigned char>(v[i]);
        if (c <= 0x20 || c >= 0x7f || std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr) break;
        id += v[i];
    }
    return id;
}

size_t remove_forged_results(std::string& message, std::string_view authserv_id) {
    // Own line scan rather than parse_message: a header section that parse_message refuses
    // (a line without a colon, too many fields) must still lose its forged fields.
    if (authserv_id.empty()) return 0;
    std::string out;
    size_t removed = 0;
    size_t pos = 0;
    bool dropping = false;
    while (pos < message.size()) {
        size_t nl = message.find("\r\n", pos);
        size_t end = nl == std::string::npos ? message.size() : nl + 2;
        std::string_view line(message.data() + pos, end - pos);
        if (line == "\r\n") break;  // the empty line: the body follows, untouched
        bool continuation = line.front() == ' ' || line.front() == '\t';
        if (!continuation) {
            dropping = false;
            size_t colon = line.find(':');
            if (colon != std::string_view::npos) {
                std::string_view name = line.substr(0, colon);
                while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
                if (iequals(name, kFieldName)) {
                    // The value runs over the continuation lines: collect them.
                    size_t vend = end;
                    while (vend < message.size() && (message[vend] == ' ' || message[vend] == '\t')) {
                        size_t n2 = message.find("\r\n", vend);
                        vend = n2 == std::string::npos ? message.size() : n2 + 2;
                    }
                    std::string_view value(message.data() + pos + colon + 1, vend - pos - colon - 1);
                    dropping = iequals(authserv_id_of(value), authserv_id);
                    if (dropping) ++removed;
                }
            }
        }
        if (!dropping) out.append(line);
        pos = end;
    }
    if (removed == 0) return 0;
    out.append(message, pos, std::string::npos);
    message.swap(out);
    return removed;
}

}  // namespace petrel::mailauth
