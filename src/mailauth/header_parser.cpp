// mailauth/header_parser.cpp — see header_parser.h. RFC 5322 §2.1–2.2, RFC 6376 §3.2.
#include "mailauth/header_parser.h"

namespace petrel::mailauth {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The end of the line starting at `pos`: the index just past its CRLF, or the end of `s`.
size_t line_end(std::string_view s, size_t pos) {
    size_t crlf = s.find("\r\n", pos);
    return crlf == std::string_view::npos ? s.size() : crlf + 2;
}

std::string_view trim_fws(std::string_view s) {
    while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return out;
}

std::string to_crlf(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += text[i];
    }
    return out;
}

std::optional<ParsedMessage> parse_message(std::string_view message, std::string& error,
                                           const HeaderLimits& limits) {
    ParsedMessage out;
    size_t pos = 0;
    while (pos < message.size()) {
        size_t end = line_end(message, pos);
        std::string_view line = message.substr(pos, end - pos);
        if (line == "\r\n") {  // RFC 5322 §2.1: the empty line ends the header section
            out.body = message.substr(end);
            return out;
        }
        if (is_wsp(line.front())) {
            // RFC 5322 §2.2.3: a continuation belongs to the field above it.
            if (out.fields.empty()) {
                error = "bad continuation";
                return std::nullopt;
            }
            HeaderField& f = out.fields.back();
            f.raw = message.substr(f.raw.data() - message.data(), end - (f.raw.data() - message.data()));
        } else {
            size_t colon = line.find(':');
            if (colon == std::string_view::npos || line.substr(0, colon).find("\r\n") != std::string_view::npos) {
                error = "bad header";
                return std::nullopt;
            }
            std::string_view name = line.substr(0, colon);
            while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);  // obs "B : Y"
            if (name.empty()) {
                error = "bad header";
                return std::nullopt;
            }
            for (char c : name) {
                auto u = static_cast<unsigned char>(c);
                if (u < 33 || u > 126) {  // RFC 5322 §3.6.8 ftext
                    error = "bad header";
                    return std::nullopt;
                }
            }
            if (out.fields.size() >= limits.max_fields) {
                error = "too many header fields";
                return std::nullopt;
            }
            out.fields.push_back({name, {}, line});
        }
        HeaderField& f = out.fields.back();
        std::string_view raw = f.raw;
        size_t value_start = raw.find(':') + 1;
        size_t value_end = raw.size();
        if (raw.size() >= 2 && raw.substr(raw.size() - 2) == "\r\n") value_end -= 2;
        f.value = raw.substr(value_start, value_end - value_start);
        pos = end;
    }
    out.body = message.substr(message.size());
    return out;
}

std::optional<std::vector<Tag>> parse_tag_list(std::string_view text) {
    std::vector<Tag> tags;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t semi = text.find(';', pos);
        bool last = semi == std::string_view::npos;
        std::string_view spec = text.substr(pos, last ? std::string_view::npos : semi - pos);
        pos = last ? text.size() + 1 : semi + 1;
        std::string_view t = trim_fws(spec);
        if (t.empty()) {
            if (last) break;  // the optional final ";" (RFC 6376 §3.2)
            return std::nullopt;
        }
        size_t eq = t.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        std::string_view name = trim_fws(t.substr(0, eq));
        std::string_view value = trim_fws(t.substr(eq + 1));
        if (name.empty() || !is_alpha(name.front())) return std::nullopt;
        for (char c : name) {
            if (!is_alpha(c) && !is_digit(c) && c != '_') return std::nullopt;
        }
        for (size_t i = 0; i < value.size(); ++i) {
            auto u = static_cast<unsigned char>(value[i]);
            // tval chars are VCHAR except ";"; FWS only between them; CR only as part of CRLF
            // followed by WSP (RFC 5322 FWS), so a bare CR or LF is invalid.
            if (u == '\r') {
                if (i + 2 >= value.size() || value[i + 1] != '\n' || !is_wsp(value[i + 2])) {
                    return std::nullopt;
                }
                ++i;
                continue;
            }
            if (u == '\n' || (u < 0x20 && u != '\t') || u == 0x7f) return std::nullopt;
        }
        for (const Tag& other : tags) {
            if (other.name == name) return std::nullopt;  // §3.2: duplicates invalidate the list
        }
        tags.push_back({name, value});
        if (last) break;
    }
    return tags;
}

const Tag* find_tag(const std::vector<Tag>& tags, std::string_view name) {
    for (const Tag& t : tags) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

bool colon_list_contains(std::string_view list, std::string_view item) {
    while (true) {
        size_t colon = list.find(':');
        if (trim_fws(list.substr(0, colon)) == item) return true;
        if (colon == std::string_view::npos) return false;
        list.remove_prefix(colon + 1);
    }
}

std::string strip_fws(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (!is_fws(c)) out += c;
    }
    return out;
}

}  // namespace petrel::mailauth
