// tests/unit/mailauth/spf/zone_lookups.h — an in-memory DNS zone as spf::Lookups, loaded from
// the OpenSPF suite's zone data (JSON from tests/tools/spf_suite_to_json.py).
//
// Serves what pyspf's own suite driver (test/testspf.py) serves: records in the given order;
// `TIMEOUT` makes a query time out unless a record of the asked type came before it; names
// not in the zone are NXDOMAIN (names under "error." time out); a name with records but none
// of the asked type is NoData; CNAMEs are followed (at most 10, a loop is SERVFAIL), as a
// recursive server does; a name that cannot be asked (empty or > 63-octet label) is BadName.
#pragma once

#include <arpa/inet.h>

#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "mailauth/spf/check_host.h"
#include "mailauth/spf/lookups.h"

namespace petrel::mailauth::spf::testing {

// A zone string: plain, or {"hex": "..."} for bytes that are not printable ASCII.
inline std::string zone_text(const boost::json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    std::string hex(v.as_object().at("hex").as_string()), out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    return out;
}

inline std::string lower_name(std::string n) {
    if (!n.empty() && n.back() == '.') n.pop_back();
    for (char& c : n) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return n;
}

inline bool parse_ip(const std::string& text, dns::IpAddress& out) {
    uint8_t b[16];
    if (inet_pton(AF_INET, text.c_str(), b) == 1) {
        out = dns::IpAddress::v4_from(b);
        return true;
    }
    if (inet_pton(AF_INET6, text.c_str(), b) == 1) {
        out = dns::IpAddress::v6_from(b);
        return true;
    }
    return false;
}

class ZoneLookups final : public Lookups {
public:
    explicit ZoneLookups(const boost::json::object& zone) {
        for (const auto& [name, records] : zone) {
            auto& list = zone_[lower_name(std::string(name))];
            for (const auto& r : records.as_array()) list.push_back(r.as_object());
        }
    }

    const dns::TxtAnswer* txt(const std::string& n) override { return answer(txt_, "TXT", n); }
    const dns::AddressAnswer* a(const std::string& n) override { return answer(a_, "A", n); }
    const dns::AddressAnswer* aaaa(const std::string& n) override { return answer(aaaa_, "AAAA", n); }
    const dns::MxAnswer* mx(const std::string& n) override { return answer(mx_, "MX", n); }
    const dns::PtrAnswer* ptr(const std::string& n) override { return answer(ptr_, "PTR", n); }

    unsigned queries = 0;  // how many questions were asked (a bound the evaluator must keep)

private:
    static void add(dns::TxtAnswer& a, const boost::json::object& r) {
        dns::TxtRecord t;
        for (const auto& s : r.at("strings").as_array()) {
            t.strings.push_back(zone_text(s));
            t.text += t.strings.back();
        }
        a.records.push_back(std::move(t));
    }
    static void add(dns::AddressAnswer& a, const boost::json::object& r) {
        dns::IpAddress ip;
        if (parse_ip(std::string(r.at("value").as_string()), ip)) a.records.push_back(ip);
    }
    static void add(dns::MxAnswer& a, const boost::json::object& r) {
        a.records.push_back({static_cast<uint16_t>(r.at("pref").as_int64()),
                             lower_name(std::string(r.at("host").as_string()))});
    }
    static void add(dns::PtrAnswer& a, const boost::json::object& r) {
        a.records.push_back({lower_name(std::string(r.at("value").as_string()))});
    }

    template <class A>
    const A* answer(std::map<std::string, A>& memo, const std::string& type, const std::string& asked) {
        ++queries;
        auto [it, fresh] = memo.try_emplace(asked);
        if (fresh) it->second = resolve<A>(type, asked);
        return &it->second;
    }

    template <class A>
    A resolve(const std::string& type, const std::string& asked) {
        A out;
        std::string name = lower_name(asked);
        if (!askable_name(name)) {
            out.status = dns::Status::BadName;
            return out;
        }
        for (int hop = 0; hop <= 10; ++hop) {
            auto it = zone_.find(name);
            if (it == zone_.end()) {
                out.status = name.rfind("error.", 0) == 0 ? dns::Status::Timeout : dns::Status::NxDomain;
                return out;
            }
            std::string cname;
            for (const auto& r : it->second) {
                std::string t(r.at("type").as_string());
                if (t == "TIMEOUT") {
                    if (out.records.empty()) out.status = dns::Status::Timeout;
                    break;
                }
                if (t == "CNAME") cname = lower_name(std::string(r.at("value").as_string()));
                if (t == type) add(out, r);
            }
            if (out.status != dns::Status::Ok) return out;
            if (!out.records.empty() || cname.empty()) {
                if (out.records.empty()) out.status = dns::Status::NoData;
                return out;
            }
            name = cname;
        }
        out.status = dns::Status::ServFail;  // a CNAME loop or a chain too long
        return out;
    }

    std::map<std::string, std::vector<boost::json::object>> zone_;
    std::map<std::string, dns::TxtAnswer> txt_;
    std::map<std::string, dns::AddressAnswer> a_, aaaa_;
    std::map<std::string, dns::MxAnswer> mx_;
    std::map<std::string, dns::PtrAnswer> ptr_;
};

}  // namespace petrel::mailauth::spf::testing
