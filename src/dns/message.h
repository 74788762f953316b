// dns/message.h — reads the records petrel needs out of a DNS response message.
//
// c-ares sends the queries, retries, fails over between servers, falls back to TCP on a
// truncated reply and decompresses names (ares_expand_name); this file walks the sections
// (RFC 1035 §4.1) because c-ares 1.18's record parsers return no TTL for MX and TXT and never
// read the SOA in the authority section that RFC 2308 §5 negative caching needs.
// Trust: the message is untrusted network input. Every read is bounds-checked against the
// message and against the record's RDLENGTH; anything that does not fit makes the whole
// message Malformed. No I/O, no allocation beyond the result.
// RFCs: 1035 §3.3.9 (MX), §3.3.12 (PTR), §3.3.14 (TXT), §3.4.1 (A), 3596 §2.2 (AAAA), 2181 §8 (a TTL with
// the top bit set counts as zero), 2308 §5 (negative TTL = min(SOA TTL, SOA MINIMUM)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "dns/records.h"

namespace petrel::dns {

struct DecodedMessage {
    bool well_formed = false;
    uint8_t rcode = 0;                      // RFC 1035 §4.1.1
    // Records of the asked type and class IN from the answer section, in message order. A
    // CNAME chain the server followed is skipped over: only the final records are kept.
    std::vector<MxRecord> mx;
    std::vector<TxtRecord> txt;
    std::vector<IpAddress> addresses;       // A or AAAA
    std::vector<PtrRecord> ptr;
    std::optional<uint32_t> min_ttl;        // smallest TTL among the records kept
    std::optional<uint32_t> negative_ttl;   // from an SOA in the authority section
};

// Decodes `message` (a whole response, header first) for records of `type`.
DecodedMessage decode_message(const uint8_t* message, size_t length, RecordType type);

}  // namespace petrel::dns
