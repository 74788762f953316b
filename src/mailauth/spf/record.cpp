// mailauth/spf/record.cpp — SPF record syntax (contract in record.h; RFC 7208 §4.5, §4.6, §5,
// §6, ABNF of §12).
#include "mailauth/spf/record.h"

#include <arpa/inet.h>

#include "mailauth/spf/macro.h"

namespace petrel::mailauth::spf {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// A CIDR length at the end of `term` after `prefix` ("/" or "//"): "0" or a number without a
// leading zero (§5.6 ip4-cidr-length, ip6-cidr-length). Removes it from `term` when found.
std::optional<unsigned> take_cidr(std::string_view& term, std::string_view prefix) {
    size_t digits = 0;
    while (digits < term.size() && is_digit(term[term.size() - 1 - digits])) ++digits;
    if (digits == 0 || digits > 4 || term.size() < digits + prefix.size()) return std::nullopt;
    std::string_view number = term.substr(term.size() - digits);
    std::string_view before = term.substr(0, term.size() - digits);
    if (before.substr(before.size() - prefix.size()) != prefix) return std::nullopt;
    // "a//64" ends in "/64" too: a single "/" must not be the second half of "//".
    if (prefix == "/" && before.size() >= 2 && before[before.size() - 2] == '/') return std::nullopt;
    if (number.size() > 1 && number[0] == '0') return std::nullopt;
    unsigned value = 0;
    for (char c : number) value = value * 10 + static_cast<unsigned>(c - '0');
    term = before.substr(0, before.size() - prefix.size());
    return value;
}

// §4.6.1: a modifier is name "=" where name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
std::optional<size_t> modifier_equals(std::string_view term) {
    if (term.empty() || !is_alpha(term[0])) return std::nullopt;
    for (size_t i = 1; i < term.size(); ++i) {
        char c = term[i];
        if (c == '=') return i;
        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '.') return std::nullopt;
    }
    return std::nullopt;
}

std::string parse_modifier(std::string_view term, size_t eq, Record& record) {
    std::string_view name = term.substr(0, eq);
    std::string_view value = term.substr(eq + 1);
    if (iequals(name, "redirect") || iequals(name, "exp")) {
        bool redirect = iequals(name, "redirect");
        auto& slot = redirect ? record.redirect : record.explanation;
        if (slot) return "modifier appears twice (RFC 7208 §6)";
        if (!valid_domain_spec(value)) return "invalid domain-spec";
        slot = std::string(value);
        return {};
    }
    // §6: unknown modifiers are ignored, but their value must still be a macro-string.
    if (!valid_macro_string(value, MacroMode::Domain)) return "invalid macro-string";
    return {};
}

std::optional<MechanismKind> mechanism_kind(std::string_view name) {
    static constexpr std::pair<std::string_view, MechanismKind> kNames[] = {
        {"all", MechanismKind::All},   {"include", MechanismKind::Include},
        {"a", MechanismKind::A},       {"mx", MechanismKind::Mx},
        {"ptr", MechanismKind::Ptr},   {"ip4", MechanismKind::Ip4},
        {"ip6", MechanismKind::Ip6},   {"exists", MechanismKind::Exists},
    };
    for (const auto& [n, k] : kNames) {
        if (iequals(name, n)) return k;
    }
    return std::nullopt;
}

std::string parse_mechanism(std::string_view term, Record& record) {
    Mechanism m;
    m.text = std::string(term);
    switch (term.empty() ? '\0' : term[0]) {
        case '+': m.qualifier = Qualifier::Pass; term.remove_prefix(1); break;
        case '-': m.qualifier = Qualifier::Fail; term.remove_prefix(1); break;
        case '~': m.qualifier = Qualifier::SoftFail; term.remove_prefix(1); break;
        case '?': m.qualifier = Qualifier::Neutral; term.remove_prefix(1); break;
        default: break;
    }
    auto cidr6 = take_cidr(term, "//");
    auto cidr4 = take_cidr(term, "/");
    size_t colon = term.find(':');
    std::string_view name = term.substr(0, colon);
    bool has_arg = colon != std::string_view::npos;
    std::string_view arg = has_arg ? term.substr(colon + 1) : std::string_view{};
    auto kind = mechanism_kind(name);
    if (!kind) return "unknown mechanism";
    m.kind = *kind;
    bool cidr = cidr4 || cidr6;
    switch (m.kind) {
        case MechanismKind::All:
            if (has_arg || cidr) return "'all' takes no argument";
            break;
        case MechanismKind::Include:
        case MechanismKind::Exists:
        case MechanismKind::Ptr:
            if (cidr) return "CIDR length not allowed here";
            if (m.kind != MechanismKind::Ptr && !has_arg) return "domain-spec required";
            if (has_arg && !valid_domain_spec(arg)) return "invalid domain-spec";
            m.domain_spec = std::string(arg);
            break;
        case MechanismKind::A:
        case MechanismKind::Mx:
            if (has_arg && !valid_domain_spec(arg)) return "invalid domain-spec";
            if ((cidr4 && *cidr4 > 32) || (cidr6 && *cidr6 > 128)) return "CIDR length out of range";
            m.domain_spec = std::string(arg);
            m.cidr4 = static_cast<uint8_t>(cidr4.value_or(32));
            m.cidr6 = static_cast<uint8_t>(cidr6.value_or(128));
            break;
        case MechanismKind::Ip4: {
            auto ip = parse_ip4(arg);
            if (!has_arg || !ip) return "invalid IPv4 network";
            if (cidr6 || (cidr4 && *cidr4 > 32)) return "invalid IPv4 CIDR length";
            m.network = *ip;
            m.cidr4 = static_cast<uint8_t>(cidr4.value_or(32));
            break;
        }
        case MechanismKind::Ip6: {
            auto ip = parse_ip6(arg);
            if (!has_arg || !ip) return "invalid IPv6 network";
            if (cidr6 || (cidr4 && *cidr4 > 128)) return "invalid IPv6 CIDR length";
            m.network = *ip;
            m.cidr6 = static_cast<uint8_t>(cidr4.value_or(128));
            break;
        }
    }
    record.mechanisms.push_back(std::move(m));
    return {};
}

}  // namespace

const char* to_string(Result result) {
    switch (result) {
        case Result::None: return "none";
        case Result::Neutral: return "neutral";
        case Result::Pass: return "pass";
        case Result::Fail: return "fail";
        case Result::SoftFail: return "softfail";
        case Result::TempError: return "temperror";
        case Result::PermError: return "permerror";
    }
    return "?";
}

Result result_of(Qualifier qualifier) {
    switch (qualifier) {
        case Qualifier::Pass: return Result::Pass;
        case Qualifier::Fail: return Result::Fail;
        case Qualifier::SoftFail: return Result::SoftFail;
        case Qualifier::Neutral: return Result::Neutral;
    }
    return Result::Neutral;
}

const char* to_string(MechanismKind kind) {
    switch (kind) {
        case MechanismKind::All: return "all";
        case MechanismKind::Include: return "include";
        case MechanismKind::A: return "a";
        case MechanismKind::Mx: return "mx";
        case MechanismKind::Ptr: return "ptr";
        case MechanismKind::Ip4: return "ip4";
        case MechanismKind::Ip6: return "ip6";
        case MechanismKind::Exists: return "exists";
    }
    return "?";
}

bool is_spf_record(std::string_view text) {
    return text.size() >= 6 && iequals(text.substr(0, 6), "v=spf1") &&
           (text.size() == 6 || text[6] == ' ');
}

ParsedRecord parse_record(std::string_view text) {
    ParsedRecord out;
    // §12: a record is "v=spf1", terms and spaces, all visible ASCII: a control character or
    // a byte above 0x7E anywhere (§3.1, §4.6.1) is a syntax error.
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e) {
            out.error = "control or non-ASCII character in record";
            return out;
        }
    }
    if (!is_spf_record(text)) {
        out.error = "not an SPF record";
        return out;
    }
    Record record;
    size_t pos = 6;
    while (pos < text.size()) {
        if (text[pos] == ' ') {  // §4.6.1: terms are separated by one or more spaces
            ++pos;
            continue;
        }
        size_t end = text.find(' ', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view term = text.substr(pos, end - pos);
        pos = end;
        auto eq = modifier_equals(term);
        std::string error = eq ? parse_modifier(term, *eq, record) : parse_mechanism(term, record);
        if (!error.empty()) {
            out.error = error + ": " + std::string(term.substr(0, 64));
            return out;
        }
    }
    out.record = std::move(record);
    return out;
}

std::optional<dns::IpAddress> parse_ip4(std::string_view text) {
    uint8_t bytes[4];
    size_t pos = 0;
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (pos >= text.size() || text[pos] != '.') return std::nullopt;
            ++pos;
        }
        size_t start = pos;
        unsigned value = 0;
        while (pos < text.size() && is_digit(text[pos]) && pos - start < 3) {
            value = value * 10 + static_cast<unsigned>(text[pos] - '0');
            ++pos;
        }
        size_t len = pos - start;
        if (len == 0 || value > 255 || (len > 1 && text[start] == '0')) return std::nullopt;
        bytes[part] = static_cast<uint8_t>(value);
    }
    if (pos != text.size()) return std::nullopt;
    return dns::IpAddress::v4_from(bytes);
}

std::optional<dns::IpAddress> parse_ip6(std::string_view text) {
    if (text.empty() || text.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
    std::string copy(text);
    uint8_t bytes[16];
    if (inet_pton(AF_INET6, copy.c_str(), bytes) != 1) return std::nullopt;
    return dns::IpAddress::v6_from(bytes);
}

}  // namespace petrel::mailauth::spf
