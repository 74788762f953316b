// dns/records.cpp — names for statuses and record types, and IpAddress formatting.
#include "dns/records.h"

#include <arpa/inet.h>

#include <cstring>

namespace petrel::dns {

const char* to_string(Status status) {
    switch (status) {
        case Status::Ok: return "ok";
        case Status::NxDomain: return "NXDOMAIN";
        case Status::NoData: return "no data";
        case Status::BadName: return "bad name";
        case Status::ServFail: return "SERVFAIL";
        case Status::Refused: return "REFUSED";
        case Status::Timeout: return "timeout";
        case Status::Unreachable: return "no DNS server reachable";
        case Status::Malformed: return "malformed answer";
        case Status::Cancelled: return "cancelled";
    }
    return "?";
}

const char* to_string(RecordType type) {
    switch (type) {
        case RecordType::A: return "A";
        case RecordType::Ptr: return "PTR";
        case RecordType::Mx: return "MX";
        case RecordType::Txt: return "TXT";
        case RecordType::Aaaa: return "AAAA";
    }
    return "?";
}

std::optional<std::string> query_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return std::nullopt;
    std::string out;
    out.reserve(name.size());
    size_t label = 0;
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '\\') return std::nullopt;
        if (c == '.') {
            if (label == 0) return std::nullopt;
            label = 0;
        } else if (++label > 63) {
            return std::nullopt;
        }
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

IpAddress IpAddress::v4_from(const uint8_t* four) {
    IpAddress a;
    std::memcpy(a.bytes.data(), four, 4);
    return a;
}

IpAddress IpAddress::v6_from(const uint8_t* sixteen) {
    IpAddress a;
    a.v6 = true;
    std::memcpy(a.bytes.data(), sixteen, 16);
    return a;
}

std::string reverse_name(const IpAddress& ip) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    if (!ip.v6) {
        for (int i = 3; i >= 0; --i) out += std::to_string(ip.bytes[i]) + '.';
        return out + "in-addr.arpa";
    }
    for (int i = 15; i >= 0; --i) {
        out += kHex[ip.bytes[i] & 0x0F];
        out += '.';
        out += kHex[ip.bytes[i] >> 4];
        out += '.';
    }
    return out + "ip6.arpa";
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
    return buf;
}

}  // namespace petrel::dns
