// dns/mx_plan.h — which hosts, at which addresses, to try for a mail domain (RFC 5321 §5.1).
//
// Pure code in two steps around the address lookups (dns/mx_lookup.h runs the whole thing):
//  1. choose_hosts(domain, MX answer): order the MX hosts by preference, shuffling hosts of
//     equal preference (RFC 5321 §5.1: "the sender-SMTP MUST randomize them to spread the
//     load"; the RNG is injected so tests are deterministic), drop duplicates, cap the number.
//       - NXDOMAIN                     → NoSuchDomain (permanent: no fallback to A)
//       - NoData                       → the domain itself is the only host ("implicit MX")
//       - only null MX "." (RFC 7505)  → NullMx (permanent: delivery bounces 556 5.1.10)
//       - a "." among real MX          → ignored (RFC 7505 §3 forbids the mix; the rest work)
//       - an MX naming an IP literal   → used as that address (RFC 5321 §5.1 says MX names a
//         host; such records exist in the wild, and Postfix accepts them with a warning)
//       - an MX naming a CNAME         → its address comes through the CNAME (RFC 2181 §10.3
//         forbids it, but the recursive server follows it and refusing helps nobody)
//       - one of `local_names` listed  → it and every host of equal or larger preference are
//         dropped (RFC 5321 §5.1); if none remains: LoopsToSelf (permanent)
//       - a temporary DNS error        → Temporary
//  2. finish_plan(hosts, their A/AAAA answers): one Target per host with at least one address,
//     in host order; addresses ordered by family preference, duplicates dropped. No target:
//     Temporary when any lookup failed temporarily, otherwise NoAddress (permanent).
// Trust: answers are untrusted DNS data; nothing here does I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dns/records.h"

namespace petrel::dns {

enum class PlanStatus : uint8_t {
    Ok,
    NoSuchDomain,  // NXDOMAIN for the MX query               permanent
    BadDomain,     // not a valid domain name                 permanent
    NullMx,        // RFC 7505: the domain accepts no mail    permanent
    LoopsToSelf,   // we are the best MX                      permanent
    NoAddress,     // no MX host has an address               permanent
    Temporary,     // a DNS failure that may pass             temporary
};
const char* to_string(PlanStatus status);
inline bool is_permanent(PlanStatus s) { return s != PlanStatus::Ok && s != PlanStatus::Temporary; }

enum class Families : uint8_t { Both, Ipv4Only, Ipv6Only };

struct PlanOptions {
    size_t max_hosts = 10;                 // MX hosts considered (bounds the address lookups)
    Families families = Families::Both;
    bool prefer_ipv6 = false;              // within a host: IPv6 addresses before IPv4
    std::vector<std::string> local_names;  // this server's names, lower case (RFC 5321 §5.1)
};

struct MxHost {
    std::string name;                  // lower case, no trailing dot
    uint16_t preference = 0;
    bool implicit = false;             // the domain itself, for want of MX records
    std::optional<IpAddress> literal;  // the MX named an IP address
};

struct HostList {
    PlanStatus status = PlanStatus::Ok;
    std::vector<MxHost> hosts;         // in the order to try
    std::string reason;                // for logs and bounce texts; names only DNS facts
};

HostList choose_hosts(std::string_view domain, const MxAnswer& mx, const PlanOptions& options,
                      std::mt19937_64& rng);

// A host's A and AAAA answers (either may be NoData when not asked for).
struct HostAddresses {
    AddressAnswer a;
    AddressAnswer aaaa;
};

struct Target {
    std::string host;
    uint16_t preference = 0;
    bool implicit = false;
    std::vector<IpAddress> addresses;  // non-empty, in the order to try
};

struct MxPlan {
    PlanStatus status = PlanStatus::Ok;
    std::vector<Target> targets;       // non-empty exactly when status == Ok
    std::string reason;
    bool permanent() const { return is_permanent(status); }
};

// `addresses[i]` belongs to `hosts.hosts[i]` (a literal host's entry is ignored).
MxPlan finish_plan(const HostList& hosts, const std::vector<HostAddresses>& addresses,
                   const PlanOptions& options);

}  // namespace petrel::dns
