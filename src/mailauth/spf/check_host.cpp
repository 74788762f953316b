// mailauth/spf/check_host.cpp — the RFC 7208 evaluator (contract in check_host.h).
#include "mailauth/spf/check_host.h"

#include <optional>
#include <vector>

#include "mailauth/spf/macro.h"

namespace petrel::mailauth::spf {

namespace {

constexpr size_t kMaxName = 253;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// §4.3: <domain> must be a well-formed, multi-label name, else the result is "none".
bool valid_domain(std::string_view name) {
    if (!askable_name(name)) return false;
    if (name.back() == '.') name.remove_suffix(1);
    return name.find('.') != std::string_view::npos;
}

// RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is the IPv4 client a.b.c.d.
dns::IpAddress unmap(const dns::IpAddress& ip) {
    if (!ip.v6) return ip;
    for (int i = 0; i < 10; ++i) {
        if (ip.bytes[i] != 0) return ip;
    }
    if (ip.bytes[10] != 0xff || ip.bytes[11] != 0xff) return ip;
    return dns::IpAddress::v4_from(ip.bytes.data() + 12);
}

bool in_network(const dns::IpAddress& ip, const dns::IpAddress& net, unsigned bits) {
    if (ip.v6 != net.v6) return false;
    for (unsigned i = 0; i < 16 && bits > 0; ++i) {
        unsigned take = bits >= 8 ? 8 : bits;
        auto mask = static_cast<uint8_t>(0xFF << (8 - take));
        if ((ip.bytes[i] & mask) != (net.bytes[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

std::string strip_dot(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return std::string(name);
}

// `name` equals `domain` or is a sub-domain of it (§5.5), ignoring case and a trailing dot.
bool within(std::string_view name, std::string_view domain) {
    std::string n = strip_dot(name), d = strip_dot(domain);
    if (iequals(n, d)) return true;
    return n.size() > d.size() && n[n.size() - d.size() - 1] == '.' &&
           iequals(std::string_view(n).substr(n.size() - d.size()), d);
}

// What a mechanism's evaluation came to.
enum class Match { No, Yes, TempError, PermError };

class Evaluator {
public:
    Evaluator(Lookups& dns, const dns::IpAddress& ip, std::string_view sender,
              const Request& request, const Limits& limits)
        : dns_(dns), request_(request), limits_(limits), ip_(unmap(ip)), sender_(sender) {
        // §4.3: a sender without local part is postmaster@domain.
        size_t at = sender_.rfind('@');
        local_part_ = at == std::string::npos ? "" : sender_.substr(0, at);
        sender_domain_ = at == std::string::npos ? sender_ : sender_.substr(at + 1);
        if (local_part_.empty()) {
            local_part_ = "postmaster";
            sender_ = "postmaster@" + sender_domain_;
        }
    }

    Outcome run(std::string_view domain) {
        Outcome out;
        out.domain = std::string(domain);
        out.result = check(domain, 0, true, out.explanation);
        out.reason = std::move(reason_);
        out.pending = pending_;
        if (out.result != Result::Fail) out.explanation.clear();
        return out;
    }

private:
    // check_host() for one domain (§4); `depth` counts include/redirect nesting; the
    // explanation is computed only where the result will be the final one (§6.2).
    Result check(std::string_view domain, unsigned depth, bool want_exp, std::string& explanation) {
        if (depth > limits_.max_depth) return error(Result::PermError, "nesting too deep");
        if (!valid_domain(domain)) return note(Result::None, "not a valid domain name");
        std::string name(domain);
        const dns::TxtAnswer* txt = ask(&Lookups::txt, name);
        if (!txt || txt->temporary()) {
            return error(Result::TempError, "DNS error looking up the SPF record of " + name);
        }
        if (!txt->ok()) return note(Result::None, "no SPF record");
        // §4.5: exactly one record must start with "v=spf1".
        const dns::TxtRecord* spf = nullptr;
        for (const auto& r : txt->records) {
            if (!is_spf_record(r.text)) continue;
            if (spf) return error(Result::PermError, "more than one SPF record at " + name);
            spf = &r;
        }
        if (!spf) return note(Result::None, "no SPF record");
        ParsedRecord parsed = parse_record(spf->text);
        if (!parsed.record) return error(Result::PermError, parsed.error + " at " + name);
        const Record& record = *parsed.record;

        for (const Mechanism& m : record.mechanisms) {
            switch (match(m, name, depth)) {
                case Match::No: continue;
                case Match::TempError: return Result::TempError;
                case Match::PermError: return Result::PermError;
                case Match::Yes: break;
            }
            Result result = result_of(m.qualifier);
            reason_ = "matched " + m.text + " at " + name;
            if (result == Result::Fail && want_exp && record.explanation) {
                explanation = explain(*record.explanation, name);
            }
            return result;
        }
        if (!record.redirect) return note(Result::Neutral, "no mechanism matched at " + name);  // §4.7
        // §6.1: evaluate the target's record instead; its exp= applies, not this one's.
        if (!count_term()) return Result::PermError;
        auto target = target_name(*record.redirect, name);
        if (!target) return Result::TempError;
        Result result = check(*target, depth + 1, want_exp, explanation);
        if (result == Result::None) {
            return error(Result::PermError, "redirect target has no SPF record: " + *target);
        }
        return result;
    }

    Match match(const Mechanism& m, const std::string& domain, unsigned depth) {
        switch (m.kind) {
            case MechanismKind::All: return Match::Yes;
            case MechanismKind::Ip4:
                return !ip_.v6 && in_network(ip_, m.network, m.cidr4) ? Match::Yes : Match::No;
            case MechanismKind::Ip6:
                return ip_.v6 && in_network(ip_, m.network, m.cidr6) ? Match::Yes : Match::No;
            default: break;
        }
        if (!count_term()) return Match::PermError;
        auto target = m.domain_spec.empty() ? std::optional<std::string>(domain)
                                            : target_name(m.domain_spec, domain);
        if (!target) return Match::TempError;  // pending %{p}
        switch (m.kind) {
            case MechanismKind::A: return match_a(*target, m);
            case MechanismKind::Mx: return match_mx(*target, m);
            case MechanismKind::Ptr: return match_ptr(*target);
            case MechanismKind::Exists: return match_exists(*target);
            case MechanismKind::Include: return match_include(*target, depth);
            default: return Match::No;
        }
    }

    // §5.3: the target's A (IPv4 client) or AAAA (IPv6 client) records, within the CIDR.
    Match match_a(const std::string& target, const Mechanism& m) {
        const dns::AddressAnswer* ans = ask_address(target);
        Match bad = failed(ans, target);
        if (bad != Match::Yes) return bad;
        return matches_any(*ans, m) ? Match::Yes : Match::No;
    }

    // §5.4: the addresses of each MX exchange; no implicit MX; more than 10 MX: permerror.
    Match match_mx(const std::string& target, const Mechanism& m) {
        const dns::MxAnswer* mx = ask(&Lookups::mx, target);
        Match bad = failed(mx, target);
        if (bad != Match::Yes) return bad;
        if (mx->records.size() > limits_.mx_names) {
            error(Result::PermError,
                  "more than " + std::to_string(limits_.mx_names) + " MX records at " + target);
            return Match::PermError;
        }
        // Ask for every exchange before judging, so one replay fetches them all.
        std::vector<const dns::AddressAnswer*> answers;
        for (const auto& r : mx->records) answers.push_back(ask_address(r.exchange));
        for (size_t i = 0; i < answers.size(); ++i) {
            Match host = failed(answers[i], mx->records[i].exchange);
            if (host == Match::No) continue;
            if (host != Match::Yes) return host;
            if (matches_any(*answers[i], m)) return Match::Yes;
        }
        return Match::No;
    }

    // §5.5: a validated name of the client that is the target or under it.
    Match match_ptr(const std::string& target) {
        const std::vector<std::string>* names = validated_names();
        if (!names) return Match::TempError;  // pending
        for (const auto& n : *names) {
            if (within(n, target)) return Match::Yes;
        }
        return Match::No;
    }

    // §5.7: any A record (whatever the client's address family) is a match.
    Match match_exists(const std::string& target) {
        const dns::AddressAnswer* ans = askable_name(target) ? ask(&Lookups::a, target) : nullptr;
        Match bad = failed(ans, target);
        return bad;  // Yes when there were records
    }

    // §5.2: pass matches; fail, softfail, neutral do not; none and permerror are permerror.
    Match match_include(const std::string& target, unsigned depth) {
        std::string ignored;
        switch (check(target, depth + 1, false, ignored)) {
            case Result::Pass: return Match::Yes;
            case Result::Fail:
            case Result::SoftFail:
            case Result::Neutral: return Match::No;
            case Result::TempError: return Match::TempError;
            case Result::None:
                error(Result::PermError, "included domain has no SPF record: " + target);
                return Match::PermError;
            case Result::PermError: return Match::PermError;
        }
        return Match::PermError;
    }

    // The common outcome of a term's lookup: Yes = there are records to look at; No = none
    // (a void lookup, §4.6.4); errors as Match values. Unaskable names are non-existent.
    template <class T>
    Match failed(const dns::Answer<T>* ans, const std::string& name) {
        if (!askable_name(name)) return void_lookup();
        if (!ans) return Match::TempError;  // pending
        if (ans->temporary()) {
            error(Result::TempError,
                  std::string("DNS error (") + dns::to_string(ans->status) + ") for " + name);
            return Match::TempError;
        }
        if (!ans->ok()) return void_lookup();
        return Match::Yes;
    }

    Match void_lookup() {
        if (++voids_ > limits_.void_lookups) {
            error(Result::PermError,
                  "more than " + std::to_string(limits_.void_lookups) + " void lookups");
            return Match::PermError;
        }
        return Match::No;
    }

    bool matches_any(const dns::AddressAnswer& ans, const Mechanism& m) const {
        for (const auto& addr : ans.records) {
            if (in_network(ip_, addr, ip_.v6 ? m.cidr6 : m.cidr4)) return true;
        }
        return false;
    }

    bool count_term() {
        if (++terms_ <= limits_.dns_terms) return true;
        error(Result::PermError,
              "more than " + std::to_string(limits_.dns_terms) + " DNS-querying terms");
        return false;
    }

    const dns::AddressAnswer* ask_address(const std::string& name) {
        if (!askable_name(name)) return nullptr;
        return ask(ip_.v6 ? &Lookups::aaaa : &Lookups::a, name);
    }

    template <class T>
    const T* ask(const T* (Lookups::*method)(const std::string&), const std::string& name) {
        const T* ans = (dns_.*method)(name);
        if (!ans) pending_ = true;
        return ans;
    }

    // §5.5 steps 1-3, also behind %{p} (§7.3): PTR names of the client (the first 10) whose
    // own addresses include it. Errors drop a name (or all of them); nullptr = pending.
    const std::vector<std::string>* validated_names() {
        if (validated_) return &*validated_;
        std::string reverse = dns::reverse_name(ip_);
        const dns::PtrAnswer* ptr = ask(&Lookups::ptr, reverse);
        if (!ptr) return nullptr;
        std::vector<std::string> candidates;
        for (const auto& r : ptr->records) {
            if (candidates.size() == limits_.ptr_names) break;
            candidates.push_back(strip_dot(r.name));
        }
        std::vector<std::string> valid;
        bool missing = false;
        for (const auto& name : candidates) {
            const dns::AddressAnswer* ans = ask_address(name);
            if (!ans) {
                missing = missing || askable_name(name);
                continue;
            }
            for (const auto& addr : ans->records) {
                if (addr == ip_) {
                    valid.push_back(name);
                    break;
                }
            }
        }
        if (missing) return nullptr;
        validated_ = std::move(valid);
        return &*validated_;
    }

    // %{p} (§7.3): the domain itself if validated, else a sub-domain of it, else any.
    std::string p_value(std::string_view domain, const std::vector<std::string>& names) {
        for (const auto& n : names) {
            if (iequals(n, strip_dot(domain))) return n;
        }
        for (const auto& n : names) {
            if (within(n, domain)) return n;
        }
        return names.empty() ? "unknown" : names.front();
    }

    MacroValues values(std::string_view domain, std::string_view p) const {
        MacroValues v;
        v.sender = sender_;
        v.local_part = local_part_;
        v.sender_domain = sender_domain_;
        v.domain = domain;
        v.ip = ip_;
        v.validated_name = p;
        v.helo = request_.helo;
        v.receiver = request_.receiver;
        v.timestamp = request_.now;
        return v;
    }

    // Expands a checked domain-spec into the name to ask; nullopt while %{p} is pending.
    std::optional<std::string> target_name(const std::string& spec, std::string_view domain) {
        std::string p;
        if (uses_p_macro(spec)) {
            const auto* names = validated_names();
            if (!names) return std::nullopt;
            p = p_value(domain, *names);
        }
        auto name = expand_domain_spec(spec, values(domain, p));
        return name ? *name : std::string();  // cannot fail: parse_record checked the syntax
    }

    // §6.2: the exp= text; any problem means "no explanation", never an error.
    std::string explain(const std::string& spec, std::string_view domain) {
        auto target = target_name(spec, domain);
        if (!target || !askable_name(*target)) return {};
        const dns::TxtAnswer* txt = ask(&Lookups::txt, *target);
        if (!txt || !txt->ok() || txt->records.size() != 1) return {};
        const std::string& text = txt->records.front().text;
        if (!valid_macro_string(text, MacroMode::Explanation)) return {};
        std::string p;
        if (uses_p_macro(text)) {
            const auto* names = validated_names();
            if (!names) return {};
            p = p_value(domain, *names);
        }
        return expand_macros(text, values(domain, p), MacroMode::Explanation).value_or("");
    }

    Result note(Result result, std::string why) {
        reason_ = std::move(why);
        return result;
    }
    // Errors keep the first reason: outer frames only pass the result on.
    Result error(Result result, std::string why) {
        if (!has_error_) reason_ = std::move(why);
        has_error_ = true;
        return result;
    }

    Lookups& dns_;
    const Request& request_;
    const Limits& limits_;
    dns::IpAddress ip_;
    std::string sender_, local_part_, sender_domain_;
    unsigned terms_ = 0, voids_ = 0;
    bool pending_ = false, has_error_ = false;
    std::optional<std::vector<std::string>> validated_;
    std::string reason_;
};

}  // namespace

bool askable_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > kMaxName) return false;
    size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if (++label > 63) {
            return false;
        }
    }
    return label > 0;
}

namespace {

std::string domain_of(std::string_view sender) {
    size_t at = sender.rfind('@');
    return std::string(at == std::string_view::npos ? sender : sender.substr(at + 1));
}

}  // namespace

Outcome check_host(Lookups& dns, const dns::IpAddress& ip, std::string_view domain,
                   std::string_view sender, const Request& context, const Limits& limits) {
    Evaluator evaluator(dns, ip, sender, context, limits);
    return evaluator.run(domain);
}

Outcome check_mail_from(Lookups& dns, const Request& request, const Limits& limits) {
    if (request.sender.empty()) return check_helo(dns, request, limits);
    return check_host(dns, request.ip, domain_of(request.sender), request.sender, request, limits);
}

Outcome check_helo(Lookups& dns, const Request& request, const Limits& limits) {
    std::string sender = "postmaster@" + request.helo;
    return check_host(dns, request.ip, request.helo, sender, request, limits);
}

}  // namespace petrel::mailauth::spf
