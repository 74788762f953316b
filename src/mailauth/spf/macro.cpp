// mailauth/spf/macro.cpp — SPF macro syntax and expansion (contract in macro.h; RFC 7208 §7).
#include "mailauth/spf/macro.h"

#include <algorithm>
#include <vector>

namespace petrel::mailauth::spf {

namespace {

constexpr size_t kMaxDomain = 253;  // RFC 7208 §7.3, RFC 1035 §2.3.4 without the root
constexpr size_t kMaxParts = 128;   // a DIGIT transformer beyond this keeps every part anyway

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_delimiter(char c) {
    return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

// §7.1 macro-literal: visible characters except "%"; explanation strings also allow SP.
bool is_literal(char c, MacroMode mode) {
    auto u = static_cast<unsigned char>(c);
    if (u == ' ') return mode == MacroMode::Explanation;
    return u >= 0x21 && u <= 0x7e && c != '%';
}

bool is_letter(char c, MacroMode mode) {
    switch (lower(c)) {
        case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h': case 'v':
            return true;
        case 'c': case 'r': case 't':
            return mode == MacroMode::Explanation;  // §7.2: only in exp= text
        default:
            return false;
    }
}

// One "%{...}" macro after the "%{": letter, *DIGIT, ["r"], *delimiter, "}".
struct Macro {
    char letter = 0;          // as written (case says whether to URL-escape)
    size_t keep = 0;          // 0: all parts
    bool reverse = false;
    std::string delimiters;   // empty: "."
    bool transformed = false; // any transformer or delimiter given
};

// Parses the macro at s[pos] (just after "%{"); on success sets `end` past the "}".
std::optional<Macro> parse_macro(std::string_view s, size_t pos, MacroMode mode, size_t& end) {
    Macro m;
    if (pos >= s.size() || !is_letter(s[pos], mode)) return std::nullopt;
    m.letter = s[pos++];
    size_t digits = 0;
    while (pos < s.size() && is_digit(s[pos])) {
        m.keep = std::min(m.keep * 10 + static_cast<size_t>(s[pos] - '0'), kMaxParts);
        ++pos;
        ++digits;
    }
    if (digits > 0 && m.keep == 0) return std::nullopt;  // §7.3: "the value MUST be nonzero"
    if (pos < s.size() && lower(s[pos]) == 'r') {
        m.reverse = true;
        ++pos;
    }
    while (pos < s.size() && is_delimiter(s[pos])) m.delimiters += s[pos++];
    if (pos >= s.size() || s[pos] != '}') return std::nullopt;
    m.transformed = digits > 0 || m.reverse || !m.delimiters.empty();
    end = pos + 1;
    return m;
}

// Walks the macro string; calls `literal(text)` and `macro(m)` in order. Returns false on a
// syntax error. `ends_in_macro` says whether the last item was a macro-expand (domain-end).
template <class Literal, class OnMacro>
bool walk(std::string_view s, MacroMode mode, Literal literal, OnMacro macro, bool* ends_in_macro) {
    bool last_macro = false;
    for (size_t i = 0; i < s.size();) {
        char c = s[i];
        if (c != '%') {
            if (!is_literal(c, mode)) return false;
            literal(std::string_view(&s[i], 1));
            last_macro = false;
            ++i;
            continue;
        }
        if (i + 1 >= s.size()) return false;  // a lone "%" at the end
        char n = s[i + 1];
        last_macro = true;
        if (n == '%') literal("%");
        else if (n == '_') literal(" ");
        else if (n == '-') literal("%20");
        else if (n == '{') {
            size_t end = 0;
            auto m = parse_macro(s, i + 2, mode, end);
            if (!m) return false;
            macro(*m);
            i = end;
            continue;
        } else {
            return false;
        }
        i += 2;
    }
    if (ends_in_macro) *ends_in_macro = last_macro;
    return true;
}

// §7.3 "i": dotted quad, or 32 dot-separated nibbles for IPv6 (upper case, as §7.4 shows).
std::string dotted_ip(const dns::IpAddress& ip) {
    if (!ip.v6) return ip.to_string();
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (size_t i = 0; i < 16; ++i) {
        if (i) out += '.';
        out += kHex[ip.bytes[i] >> 4];
        out += '.';
        out += kHex[ip.bytes[i] & 0x0F];
    }
    return out;
}

std::string letter_value(char letter, const MacroValues& v) {
    switch (lower(letter)) {
        case 's': return std::string(v.sender);
        case 'l': return std::string(v.local_part);
        case 'o': return std::string(v.sender_domain);
        case 'd': return std::string(v.domain);
        case 'i': return dotted_ip(v.ip);
        case 'p': return std::string(v.validated_name.empty() ? "unknown" : v.validated_name);
        case 'h': return std::string(v.helo);
        case 'v': return v.ip.v6 ? "ip6" : "in-addr";
        case 'c': return v.ip.to_string();
        case 'r': return std::string(v.receiver.empty() ? "unknown" : v.receiver);
        case 't': return std::to_string(v.timestamp);
    }
    return {};
}

// §7.3: split on the delimiters, reverse, keep the rightmost `keep` parts, join with ".".
std::string transform(const std::string& value, const Macro& m) {
    if (!m.transformed) return value;
    std::string_view delims = m.delimiters.empty() ? std::string_view(".") : m.delimiters;
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (size_t i = 0; i <= value.size(); ++i) {
        if (i == value.size() || delims.find(value[i]) != std::string_view::npos) {
            parts.emplace_back(value.data() + start, i - start);
            start = i + 1;
        }
    }
    if (m.reverse) std::reverse(parts.begin(), parts.end());
    size_t first = (m.keep && m.keep < parts.size()) ? parts.size() - m.keep : 0;
    std::string out;
    for (size_t i = first; i < parts.size(); ++i) {
        if (i > first) out += '.';
        out += parts[i];
    }
    return out;
}

// RFC 3986 §2.3 unreserved characters stay; everything else becomes %XX (§7.3).
std::string url_escape(const std::string& s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            auto u = static_cast<unsigned char>(c);
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 0x0F];
        }
    }
    return out;
}

// RFC 7208 §7.1 toplabel = ( *alphanum ALPHA *alphanum ) /
//                          ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view t) {
    if (t.empty()) return false;
    bool alpha = false, dash = false;
    for (char c : t) {
        if (c == '-') dash = true;
        else if (is_alpha(c)) alpha = true;
        else if (!is_digit(c)) return false;
    }
    if (!dash) return alpha;
    return is_alnum(t.front()) && is_alnum(t.back());
}

// Expansion output, capped at kMaxExpansion characters (macro.h: a hostile record with
// thousands of macros over a long sender would otherwise build megabytes before any cut).
// An explanation keeps its head: the rest is cut, as the reply text is anyway. A domain-spec
// keeps its tail: §7.3 drops labels from the LEFT until the name fits in 253 characters, so
// nothing further left than the last 254 characters can be in the result, and dropping it
// early gives the same name (the partial first label left behind is over 253 characters
// from the end, so expand_domain_spec drops it too).
class CappedOutput {
public:
    explicit CappedOutput(bool keep_tail) : keep_tail_(keep_tail) {}
    void append(std::string_view s) {
        if (!keep_tail_) {
            out_.append(s.substr(0, kMaxExpansion - std::min(out_.size(), kMaxExpansion)));
            return;
        }
        out_ += s;
        // Trim to kMaxExpansion only once twice that has piled up: amortized O(1) per byte.
        if (out_.size() > 2 * kMaxExpansion) out_.erase(0, out_.size() - kMaxExpansion);
    }
    std::string take() { return std::move(out_); }

private:
    bool keep_tail_;
    std::string out_;
};

std::optional<std::string> expand(std::string_view s, const MacroValues& values, MacroMode mode,
                                  bool keep_tail) {
    CappedOutput out(keep_tail);
    bool ok = walk(
        s, mode, [&](std::string_view lit) { out.append(lit); },
        [&](const Macro& m) {
            std::string value = transform(letter_value(m.letter, values), m);
            out.append((m.letter >= 'A' && m.letter <= 'Z') ? url_escape(value) : value);
        },
        nullptr);
    if (!ok) return std::nullopt;
    return out.take();
}

}  // namespace

bool valid_macro_string(std::string_view s, MacroMode mode) {
    return walk(s, mode, [](std::string_view) {}, [](const Macro&) {}, nullptr);
}

bool valid_domain_spec(std::string_view s) {
    bool ends_in_macro = false;
    if (s.empty() || !walk(s, MacroMode::Domain, [](std::string_view) {}, [](const Macro&) {},
                           &ends_in_macro)) {
        return false;
    }
    if (ends_in_macro) return true;
    if (s.back() == '.') s.remove_suffix(1);
    size_t dot = s.rfind('.');
    return dot != std::string_view::npos && is_toplabel(s.substr(dot + 1));
}

bool uses_p_macro(std::string_view s) {
    for (size_t i = 0; i + 2 < s.size(); ++i) {
        if (s[i] == '%' && s[i + 1] == '%') {
            ++i;  // "%%" is a literal percent: what follows is not a macro
            continue;
        }
        if (s[i] == '%' && s[i + 1] == '{' && lower(s[i + 2]) == 'p') return true;
    }
    return false;
}

std::optional<std::string> expand_macros(std::string_view s, const MacroValues& values,
                                         MacroMode mode) {
    return expand(s, values, mode, /*keep_tail=*/false);
}

std::optional<std::string> expand_domain_spec(std::string_view spec, const MacroValues& values) {
    auto name = expand(spec, values, MacroMode::Domain, /*keep_tail=*/true);
    if (!name) return std::nullopt;
    if (!name->empty() && name->back() == '.') name->pop_back();
    // One erase at the end: erasing label by label would move the rest each time.
    size_t start = 0;
    while (name->size() - start > kMaxDomain) {
        size_t dot = name->find('.', start);
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    name->erase(0, start);
    return name;
}

}  // namespace petrel::mailauth::spf
