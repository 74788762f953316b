// mailauth/dmarc/record.cpp — DMARC record parser (see record.h; RFC 7489 §6.3, §6.4).
//
// ABNF quoted strings are case-insensitive (RFC 5234 §2.3), so tag names and the words of p=,
// sp=, adkim=, aspf= match in any case; "DMARC1" is given as %x values and is case-sensitive.
#include "mailauth/dmarc/record.h"

#include <charconv>

#include "mailauth/header_parser.h"

namespace petrel::mailauth::dmarc {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_wsp(std::string_view s) {
    while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
    return s;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<Policy> parse_policy(std::string_view v) {
    if (iequals(v, "none")) return Policy::None;
    if (iequals(v, "quarantine")) return Policy::Quarantine;
    if (iequals(v, "reject")) return Policy::Reject;
    return std::nullopt;
}

std::optional<Alignment> parse_alignment(std::string_view v) {
    if (iequals(v, "r")) return Alignment::Relaxed;
    if (iequals(v, "s")) return Alignment::Strict;
    return std::nullopt;
}

// 1*DIGIT that fits; nullopt otherwise.
std::optional<unsigned long> parse_number(std::string_view v, size_t max_digits) {
    if (v.empty() || v.size() > max_digits) return std::nullopt;
    for (char c : v) {
        if (!is_digit(c)) return std::nullopt;
    }
    unsigned long n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size()) return std::nullopt;
    return n;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (§6.4). The URI is checked only as
// far as "scheme ':' something without spaces or controls" (RFC 3986 §3.1): petrel sends no
// reports, it only needs to know whether rua= holds a plausible URI (§6.6.3 step 6).
bool is_dmarc_uri(std::string_view u) {
    if (u.empty() || !is_alpha(u[0])) return false;
    size_t colon = u.find(':');
    if (colon == std::string_view::npos || colon + 1 >= u.size()) return false;
    for (size_t i = 1; i < colon; ++i) {
        char c = u[i];
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
    }
    for (char c : u) {
        auto b = static_cast<unsigned char>(c);
        if (b <= 0x20 || b >= 0x7f) return false;
    }
    size_t bang = u.rfind('!');
    if (bang != std::string_view::npos && bang > colon) {
        std::string_view size = u.substr(bang + 1);
        if (!size.empty() && (size.back() == 'k' || size.back() == 'm' || size.back() == 'g' ||
                              size.back() == 't')) {
            size.remove_suffix(1);
        }
        if (!parse_number(size, 20)) return false;
    }
    return true;
}

// rua= / ruf=: comma-separated URIs; invalid entries are dropped with a warning.
std::vector<std::string> parse_uris(std::string_view value, std::string_view tag,
                                    std::vector<std::string>& warnings) {
    std::vector<std::string> out;
    while (true) {
        size_t comma = value.find(',');
        std::string_view item = trim_wsp(value.substr(0, comma));
        if (is_dmarc_uri(item)) {
            if (out.size() < kMaxReportUris) out.emplace_back(item);
        } else {
            warnings.push_back(std::string(tag) + "= entry is not a URI");
        }
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return out;
}

// fo= : ("0" / "1" / "d" / "s") *(*WSP ":" *WSP ...)
bool is_failure_options(std::string_view v) {
    if (v.empty()) return false;
    while (true) {
        size_t colon = v.find(':');
        std::string_view item = trim_wsp(v.substr(0, colon));
        if (item != "0" && item != "1" && item != "d" && item != "s") return false;
        if (colon == std::string_view::npos) return true;
        v.remove_prefix(colon + 1);
    }
}

// rf= : Keyword *(*WSP ":" Keyword); Keyword = ALPHA / DIGIT / "-" runs (RFC 5321 §4.1.2 style).
bool is_keyword_list(std::string_view v) {
    if (v.empty()) return false;
    while (true) {
        size_t colon = v.find(':');
        std::string_view item = trim_wsp(v.substr(0, colon));
        if (item.empty()) return false;
        for (char c : item) {
            if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
        }
        if (colon == std::string_view::npos) return true;
        v.remove_prefix(colon + 1);
    }
}

}  // namespace

const char* to_string(Policy p) {
    switch (p) {
        case Policy::None: return "none";
        case Policy::Quarantine: return "quarantine";
        case Policy::Reject: return "reject";
    }
    return "none";
}

const char* to_string(Alignment a) { return a == Alignment::Strict ? "s" : "r"; }

bool is_dmarc_record(std::string_view text) {
    if (text.size() > kMaxRecordLength) text = text.substr(0, kMaxRecordLength);
    std::string_view s = text;
    if (s.empty() || s[0] != 'v') return false;
    s = trim_wsp(s.substr(1));
    if (s.empty() || s[0] != '=') return false;
    s = trim_wsp(s.substr(1));
    if (s.substr(0, 6) != "DMARC1") return false;
    s = trim_wsp(s.substr(6));
    return s.empty() || s[0] == ';';
}

std::optional<Record> parse_record(std::string_view text, std::string& error) {
    if (text.size() > kMaxRecordLength) {
        error = "record too long";
        return std::nullopt;
    }
    if (!is_dmarc_record(text)) {
        error = "not a DMARC1 record";
        return std::nullopt;
    }
    Record rec;
    std::optional<Policy> p, sp;
    bool p_seen = false, sp_seen = false;
    std::vector<std::string_view> seen;

    size_t semi = text.find(';');
    std::string_view rest = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    while (!rest.empty()) {
        size_t next = rest.find(';');
        std::string_view spec = trim_wsp(rest.substr(0, next));
        rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
        if (spec.empty()) continue;  // "p=none;" and ";;": empty specs carry nothing
        size_t eq = spec.find('=');
        if (eq == std::string_view::npos) {
            rec.warnings.emplace_back("tag without '=' ignored");
            continue;
        }
        std::string_view name = trim_wsp(spec.substr(0, eq));
        std::string_view value = trim_wsp(spec.substr(eq + 1));
        bool duplicate = false;
        for (auto s : seen) duplicate = duplicate || iequals(s, name);
        if (duplicate) {
            rec.warnings.push_back("duplicate " + to_lower(name) + "= ignored");
            continue;
        }
        seen.push_back(name);

        if (iequals(name, "v")) {
            rec.warnings.emplace_back("second v= ignored");
        } else if (iequals(name, "p")) {
            p_seen = true;
            p = parse_policy(value);
        } else if (iequals(name, "sp")) {
            sp_seen = true;
            sp = parse_policy(value);
        } else if (iequals(name, "pct")) {
            auto n = parse_number(value, 3);
            if (n && *n <= 100) rec.percent = static_cast<unsigned>(*n);
            else rec.warnings.emplace_back("invalid pct= ignored");
        } else if (iequals(name, "adkim") || iequals(name, "aspf")) {
            auto a = parse_alignment(value);
            Alignment& dst = iequals(name, "adkim") ? rec.dkim_alignment : rec.spf_alignment;
            if (a) dst = *a;
            else rec.warnings.push_back("invalid " + to_lower(name) + "= ignored");
        } else if (iequals(name, "rua")) {
            rec.rua = parse_uris(value, "rua", rec.warnings);
        } else if (iequals(name, "ruf")) {
            rec.ruf = parse_uris(value, "ruf", rec.warnings);
        } else if (iequals(name, "fo")) {
            if (is_failure_options(value)) rec.failure_options = std::string(value);
            else rec.warnings.emplace_back("invalid fo= ignored");
        } else if (iequals(name, "rf")) {
            if (is_keyword_list(value)) rec.report_format = std::string(value);
            else rec.warnings.emplace_back("invalid rf= ignored");
        } else if (iequals(name, "ri")) {
            auto n = parse_number(value, 10);
            if (n) rec.report_interval = *n;
            else rec.warnings.emplace_back("invalid ri= ignored");
        }
        // Unknown tags are ignored (§6.3).
    }

    // §6.6.3 step 6: a missing or invalid p=, or an invalid sp=, makes the record unusable
    // unless rua= holds a valid URI, in which case it acts as "v=DMARC1; p=none".
    bool policy_broken = !p || (sp_seen && !sp);
    if (policy_broken) {
        if (rec.rua.empty()) {
            error = !p_seen ? "p= missing" : !p ? "invalid p=" : "invalid sp=";
            return std::nullopt;
        }
        rec.policy_defaulted = true;
        rec.policy = Policy::None;
        rec.subdomain_policy = Policy::None;
        rec.warnings.emplace_back(!p_seen ? "p= missing: treated as p=none (rua= present)"
                                          : "invalid policy: treated as p=none (rua= present)");
        return rec;
    }
    rec.policy = *p;
    rec.subdomain_policy = sp ? *sp : *p;
    rec.has_subdomain_policy = sp.has_value();
    return rec;
}

}  // namespace petrel::mailauth::dmarc
