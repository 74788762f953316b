// fuzz/dns_message.cpp — libFuzzer target for dns::decode_message (dns/message.h), the reader of
// DNS responses from the network, and dns::query_name.
//
// The whole input is a response message, decoded for each record type (A, AAAA, MX, TXT and
// PTR, the last for SPF's ptr and %{p}). Checked beyond memory safety: a well-formed result
// keeps its invariants (only records of the asked type, A is IPv4, AAAA is IPv6, a TXT record's
// text is its strings joined, every kept record has a TTL below 2^31 per RFC 2181 §8). The
// first 4 and 16 bytes also make an address whose reverse name (dns::reverse_name, RFC 1035
// §3.5, RFC 3596 §2.5) must be a valid query name under in-addr.arpa or ip6.arpa.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dns/message.h"

using namespace petrel::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    for (RecordType t : {RecordType::A, RecordType::Aaaa, RecordType::Mx, RecordType::Txt,
                         RecordType::Ptr}) {
        DecodedMessage m = decode_message(data, size, t);
        if (!m.well_formed) continue;
        size_t n = m.mx.size() + m.txt.size() + m.addresses.size() + m.ptr.size();
        if (n > 0 && (!m.min_ttl || *m.min_ttl > 0x7fffffffu)) __builtin_trap();
        const bool address = t == RecordType::A || t == RecordType::Aaaa;
        if ((t != RecordType::Mx && !m.mx.empty()) || (t != RecordType::Txt && !m.txt.empty()) ||
            (!address && !m.addresses.empty()) || (t != RecordType::Ptr && !m.ptr.empty())) {
            __builtin_trap();
        }
        for (const auto& a : m.addresses) {
            if (a.v6 != (t == RecordType::Aaaa)) __builtin_trap();
        }
        for (const auto& r : m.txt) {
            std::string joined;
            for (const auto& s : r.strings) joined += s;
            if (joined != r.text) __builtin_trap();
        }
    }
    auto q = query_name(std::string_view(reinterpret_cast<const char*>(data), size));
    if (q && (q->empty() || q->size() > 253)) __builtin_trap();
    if (size >= 16) {
        for (const IpAddress& ip : {IpAddress::v4_from(data), IpAddress::v6_from(data)}) {
            const std::string rev = reverse_name(ip);
            auto asked = query_name(rev);
            if (!asked || *asked != rev) __builtin_trap();
            if (!rev.ends_with(ip.v6 ? ".ip6.arpa" : ".in-addr.arpa")) __builtin_trap();
        }
    }
    return 0;
}
