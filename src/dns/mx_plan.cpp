// dns/mx_plan.cpp — the RFC 5321 §5.1 / RFC 7505 host selection rules (contract in mx_plan.h).
#include "dns/mx_plan.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

namespace petrel::dns {

namespace {

std::optional<IpAddress> ip_literal(const std::string& name) {
    uint8_t buf[16];
    if (inet_pton(AF_INET, name.c_str(), buf) == 1) return IpAddress::v4_from(buf);
    if (inet_pton(AF_INET6, name.c_str(), buf) == 1) return IpAddress::v6_from(buf);
    return std::nullopt;
}

HostList fail(PlanStatus status, std::string reason) {
    HostList out;
    out.status = status;
    out.reason = std::move(reason);
    return out;
}

// Lower case without a trailing dot, as dns::query_name writes names.
std::string lower(std::string s) {
    if (!s.empty() && s.back() == '.') s.pop_back();
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

}  // namespace

const char* to_string(PlanStatus status) {
    switch (status) {
        case PlanStatus::Ok: return "ok";
        case PlanStatus::NoSuchDomain: return "no such domain";
        case PlanStatus::BadDomain: return "bad domain name";
        case PlanStatus::NullMx: return "domain does not accept mail (null MX)";
        case PlanStatus::LoopsToSelf: return "mail loops back to myself";
        case PlanStatus::NoAddress: return "no address for the mail exchangers";
        case PlanStatus::Temporary: return "temporary DNS failure";
    }
    return "?";
}

HostList choose_hosts(std::string_view domain, const MxAnswer& mx, const PlanOptions& options,
                      std::mt19937_64& rng) {
    std::string d(domain);
    switch (mx.status) {
        case Status::Ok: break;
        case Status::NoData: {
            // RFC 5321 §5.1: no MX records → the domain is its own, implicit MX of preference 0.
            HostList out;
            out.hosts.push_back(MxHost{lower(d), 0, true, ip_literal(d)});
            return out;
        }
        case Status::NxDomain: return fail(PlanStatus::NoSuchDomain, "domain " + d + " does not exist");
        case Status::BadName: return fail(PlanStatus::BadDomain, "bad domain name");
        default:
            return fail(PlanStatus::Temporary, std::string("MX lookup for ") + d + ": " + to_string(mx.status));
    }

    std::vector<MxRecord> records;
    for (const auto& r : mx.records) {
        if (!r.exchange.empty() && r.exchange != ".") records.push_back({r.preference, lower(r.exchange)});
    }
    if (records.empty()) return fail(PlanStatus::NullMx, "domain " + d + " accepts no mail (null MX)");

    // Sort, then shuffle each run of equal preference.
    std::sort(records.begin(), records.end(),
              [](const MxRecord& x, const MxRecord& y) { return x.preference < y.preference; });
    for (auto first = records.begin(); first != records.end();) {
        auto last = std::find_if(first, records.end(),
                                 [&](const MxRecord& r) { return r.preference != first->preference; });
        std::shuffle(first, last, rng);
        first = last;
    }

    // RFC 5321 §5.1: if we are listed, only strictly more preferred hosts may be tried.
    std::optional<uint16_t> self;
    for (const auto& r : records) {
        if (std::find(options.local_names.begin(), options.local_names.end(), r.exchange) !=
            options.local_names.end()) {
            self = std::min(self.value_or(r.preference), r.preference);
        }
    }

    HostList out;
    std::set<std::string> seen;
    for (auto& r : records) {
        if (self && r.preference >= *self) break;  // sorted: every later one is as bad
        if (out.hosts.size() >= options.max_hosts) break;
        if (!seen.insert(r.exchange).second) continue;
        auto literal = ip_literal(r.exchange);
        out.hosts.push_back(MxHost{std::move(r.exchange), r.preference, false, literal});
    }
    if (out.hosts.empty()) {
        return fail(PlanStatus::LoopsToSelf, "mail for " + d + " loops back to myself");
    }
    return out;
}

MxPlan finish_plan(const HostList& hosts, const std::vector<HostAddresses>& addresses,
                   const PlanOptions& options) {
    MxPlan plan;
    if (hosts.status != PlanStatus::Ok) {
        plan.status = hosts.status;
        plan.reason = hosts.reason;
        return plan;
    }
    bool temporary = false;
    std::string last_problem;
    std::set<std::pair<bool, std::array<uint8_t, 16>>> seen;
    for (size_t i = 0; i < hosts.hosts.size(); ++i) {
        const MxHost& h = hosts.hosts[i];
        Target t{h.name, h.preference, h.implicit, {}};
        auto add = [&](const IpAddress& ip) {
            bool wanted = ip.v6 ? options.families != Families::Ipv4Only
                                : options.families != Families::Ipv6Only;
            if (wanted && seen.insert({ip.v6, ip.bytes}).second) t.addresses.push_back(ip);
        };
        if (h.literal) {
            add(*h.literal);
        } else if (i < addresses.size()) {
            const HostAddresses& ha = addresses[i];
            const AddressAnswer& first = options.prefer_ipv6 ? ha.aaaa : ha.a;
            const AddressAnswer& second = options.prefer_ipv6 ? ha.a : ha.aaaa;
            for (const auto& ip : first.records) add(ip);
            for (const auto& ip : second.records) add(ip);
            if (ha.a.temporary() || ha.aaaa.temporary()) {
                temporary = temporary || t.addresses.empty();
                const AddressAnswer& bad = ha.a.temporary() ? ha.a : ha.aaaa;
                last_problem = "address lookup for " + h.name + ": " + to_string(bad.status);
            } else if (t.addresses.empty()) {
                last_problem = "no address for " + h.name;
            }
        }
        if (!t.addresses.empty()) plan.targets.push_back(std::move(t));
    }
    if (plan.targets.empty()) {
        plan.status = temporary ? PlanStatus::Temporary : PlanStatus::NoAddress;
        plan.reason = last_problem.empty() ? to_string(plan.status) : last_problem;
    }
    return plan;
}

}  // namespace petrel::dns
