// tests/unit/dns/ptr_test.cpp — PTR support added for SPF (RFC 7208 §5.5, §7.3): the reverse
// names of RFC 1035 §3.5 and RFC 3596 §2.5, PTR RDATA decoding (RFC 1035 §3.3.12) including a
// compressed name and a truncated one, and the cache keeping PTR answers apart from others.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "dns/cache.h"
#include "dns/message.h"

namespace petrel::dns {
namespace {

IpAddress ip(const char* text) {
    uint8_t b[16];
    if (inet_pton(AF_INET, text, b) == 1) return IpAddress::v4_from(b);
    EXPECT_EQ(inet_pton(AF_INET6, text, b), 1) << text;
    return IpAddress::v6_from(b);
}

TEST(DnsPtr, ReverseNames) {
    EXPECT_EQ(reverse_name(ip("192.0.2.3")), "3.2.0.192.in-addr.arpa");
    EXPECT_EQ(reverse_name(ip("2001:db8::cb01")),
              "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

// A response to "3.2.0.192.in-addr.arpa PTR" with one answer whose RDATA is `rdata`.
std::vector<uint8_t> response(const std::vector<uint8_t>& rdata) {
    std::vector<uint8_t> m = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    for (const char* label : {"3", "2", "0", "192", "in-addr", "arpa"}) {
        m.push_back(static_cast<uint8_t>(strlen(label)));
        m.insert(m.end(), label, label + strlen(label));
    }
    m.insert(m.end(), {0, 0, 12, 0, 1});                       // root, QTYPE PTR, QCLASS IN
    m.insert(m.end(), {0xC0, 0x0C, 0, 12, 0, 1, 0, 0, 1, 0});  // owner, PTR, IN, TTL 256
    m.push_back(static_cast<uint8_t>(rdata.size() >> 8));
    m.push_back(static_cast<uint8_t>(rdata.size()));
    m.insert(m.end(), rdata.begin(), rdata.end());
    return m;
}

TEST(DnsPtr, DecodesPtrRecords) {
    std::vector<uint8_t> rdata = {4, 'm', 'a', 'i', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0};
    auto m = response(rdata);
    DecodedMessage d = decode_message(m.data(), m.size(), RecordType::Ptr);
    ASSERT_TRUE(d.well_formed);
    ASSERT_EQ(d.ptr.size(), 1u);
    EXPECT_EQ(d.ptr[0].name, "mail.example.test");
    EXPECT_EQ(d.min_ttl, 256u);

    // A compressed name pointing at the question's "in-addr.arpa" (offset 12 + 2 + 2 + 2 + 4).
    std::vector<uint8_t> compressed = {1, 'x', 0xC0, 22};
    m = response(compressed);
    d = decode_message(m.data(), m.size(), RecordType::Ptr);
    ASSERT_TRUE(d.well_formed);
    ASSERT_EQ(d.ptr.size(), 1u);
    EXPECT_EQ(d.ptr[0].name, "x.in-addr.arpa");
}

TEST(DnsPtr, TruncatedPtrIsMalformed) {
    std::vector<uint8_t> rdata = {4, 'm', 'a', 'i', 'l', 0};
    auto m = response(rdata);
    for (size_t cut = 1; cut < m.size(); ++cut) {
        EXPECT_FALSE(decode_message(m.data(), cut, RecordType::Ptr).well_formed) << cut;
    }
}

TEST(DnsPtr, CacheKeepsPtrApart) {
    Cache cache;
    auto now = Cache::Clock::now();
    PtrAnswer ptr{Status::Ok, {{"mail.example.test"}}, std::chrono::seconds(60), false};
    cache.put(RecordType::Ptr, "3.2.0.192.in-addr.arpa", ptr, now);
    EXPECT_FALSE(cache.get<TxtRecord>(RecordType::Txt, "3.2.0.192.in-addr.arpa", now));
    auto hit = cache.get<PtrRecord>(RecordType::Ptr, "3.2.0.192.in-addr.arpa", now);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->records.front().name, "mail.example.test");
    EXPECT_TRUE(hit->from_cache);
}

}  // namespace
}  // namespace petrel::dns
