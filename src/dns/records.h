// dns/records.h — the values a DNS lookup returns: records, their TTL, and what went wrong.
//
// Pure types with no I/O and no Asio, so pure code (mailauth/: SPF, DKIM, DMARC) can take DNS
// answers as input without pulling in the resolver. An `Answer` is either records (status Ok)
// or a status saying why there are none and whether that is permanent:
//   NxDomain  the name does not exist (RFC 1035 §4.1.1 RCODE 3)           permanent
//   NoData    the name exists but has no record of this type (RFC 2308 §2.2) permanent
//   BadName   the name asked for is not a valid DNS name (never sent)     permanent
//   ServFail, Refused, Timeout, Unreachable, Malformed, Cancelled         temporary
// Malformed (an answer that could not be read) is temporary: RFC 7208 §5 and RFC 6376 §6.1.2
// treat DNS errors as temporary, and a garbled reply may not repeat.
// Trust: records came from the network; names are as the server sent them (c-ares escapes
// unusual bytes), TXT strings are raw bytes of any value.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::dns {

enum class Status : uint8_t {
    Ok,
    NxDomain,
    NoData,
    BadName,
    ServFail,
    Refused,
    Timeout,
    Unreachable,  // no server could be contacted (e.g. ICMP port unreachable)
    Malformed,
    Cancelled,    // the resolver was shut down
};

const char* to_string(Status status);
inline bool is_permanent(Status s) {
    return s == Status::NxDomain || s == Status::NoData || s == Status::BadName;
}
inline bool is_temporary(Status s) { return s != Status::Ok && !is_permanent(s); }

enum class RecordType : uint16_t { A = 1, Ptr = 12, Mx = 15, Txt = 16, Aaaa = 28 };
const char* to_string(RecordType type);

// An IPv4 or IPv6 address as raw network-order bytes (v4 uses the first 4 bytes).
struct IpAddress {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};

    static IpAddress v4_from(const uint8_t* four);
    static IpAddress v6_from(const uint8_t* sixteen);
    std::string to_string() const;  // "192.0.2.1", "2001:db8::1" (inet_ntop)
    friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct MxRecord {
    uint16_t preference = 0;
    std::string exchange;  // without trailing dot; "" is the root: a null MX (RFC 7505)
    friend bool operator==(const MxRecord&, const MxRecord&) = default;
};

// One TXT record. RFC 7208 §3.3 and RFC 6376 §3.6.2.2: a record's character-strings are
// concatenated without separator to form the text; `strings` keeps them as they came.
struct TxtRecord {
    std::string text;
    std::vector<std::string> strings;
    friend bool operator==(const TxtRecord&, const TxtRecord&) = default;
};

// One PTR record (RFC 1035 §3.3.12): the name an address maps back to, without trailing dot.
struct PtrRecord {
    std::string name;
    friend bool operator==(const PtrRecord&, const PtrRecord&) = default;
};

// The name a PTR query for `ip` asks: "4.3.2.1.in-addr.arpa" (RFC 1035 §3.5) or the 32
// reversed nibbles under "ip6.arpa" (RFC 3596 §2.5).
std::string reverse_name(const IpAddress& ip);

template <class T>
struct Answer {
    Status status = Status::Ok;
    std::vector<T> records;   // non-empty exactly when status == Ok
    // Ok: the smallest TTL among the records. NxDomain/NoData: the negative TTL of RFC 2308 §5
    // (min of the SOA's TTL and MINIMUM) when the server sent an SOA, else zero. From a cache:
    // what is left of it. Temporary errors: zero.
    std::chrono::seconds ttl{0};
    bool from_cache = false;

    bool ok() const { return status == Status::Ok; }
    bool permanent() const { return is_permanent(status); }
    bool temporary() const { return is_temporary(status); }
};

// The form in which a name is asked for and cached: ASCII lower case, no trailing dot. nullopt
// (→ Status::BadName) when it cannot be a DNS name: empty, longer than 253 characters, an
// empty label or one over 63 (RFC 1035 §2.3.4), or a byte that is a control character, space,
// backslash (c-ares would read it as an escape) or not ASCII (IDNA is the caller's job: names
// arrive as A-labels).
std::optional<std::string> query_name(std::string_view name);

using MxAnswer = Answer<MxRecord>;
using TxtAnswer = Answer<TxtRecord>;
using AddressAnswer = Answer<IpAddress>;  // A or AAAA
using PtrAnswer = Answer<PtrRecord>;

}  // namespace petrel::dns
