// tests/unit/dns/message_test.cpp — decode_message on hand-built responses: each record type,
// TTLs (RFC 2181 §8), the RFC 2308 negative TTL, CNAME chains, compression, and every
// truncation and a bad RDLENGTH refused as malformed rather than read past.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/message.h"

namespace petrel::dns {
namespace {

class Builder {
public:
    Builder(uint16_t ancount, uint16_t nscount, uint8_t rcode = 0) {
        u16(0x1234);
        u16(0x8180 | rcode);
        u16(1);
        u16(ancount);
        u16(nscount);
        u16(0);
        name("example.test");
        u16(15);
        u16(1);
    }
    Builder& u16(uint16_t v) {
        b.push_back(static_cast<uint8_t>(v >> 8));
        b.push_back(static_cast<uint8_t>(v));
        return *this;
    }
    Builder& u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
    Builder& name(const std::string& n) {
        size_t start = 0;
        while (start < n.size()) {
            size_t dot = n.find('.', start);
            if (dot == std::string::npos) dot = n.size();
            b.push_back(static_cast<uint8_t>(dot - start));
            b.insert(b.end(), n.begin() + static_cast<long>(start), n.begin() + static_cast<long>(dot));
            start = dot + 1;
        }
        b.push_back(0);
        return *this;
    }
    Builder& pointer_to_question() { return u16(0xC00C); }
    // An RR owned by the question name (compressed), with the given RDATA.
    Builder& rr(uint16_t type, uint32_t ttl, const std::vector<uint8_t>& rdata) {
        pointer_to_question().u16(type).u16(1).u32(ttl).u16(static_cast<uint16_t>(rdata.size()));
        b.insert(b.end(), rdata.begin(), rdata.end());
        return *this;
    }
    std::vector<uint8_t> b;
};

std::vector<uint8_t> mx_rdata(uint16_t pref, const std::string& host) {
    Builder tmp(0, 0);
    tmp.b.clear();
    tmp.u16(pref).name(host);
    return tmp.b;
}

std::vector<uint8_t> soa_rdata(uint32_t minimum) {
    Builder tmp(0, 0);
    tmp.b.clear();
    tmp.name("ns.example.test").name("hostmaster.example.test");
    tmp.u32(1).u32(3600).u32(600).u32(86400).u32(minimum);
    return tmp.b;
}

DecodedMessage decode(const Builder& m, RecordType t) { return decode_message(m.b.data(), m.b.size(), t); }

TEST(DnsMessage, MxRecordsWithTheSmallestTtl) {
    Builder m(2, 0);
    m.rr(15, 300, mx_rdata(10, "mx1.example.test")).rr(15, 60, mx_rdata(20, "mx2.example.test"));
    auto d = decode(m, RecordType::Mx);
    ASSERT_TRUE(d.well_formed);
    ASSERT_EQ(d.mx.size(), 2u);
    EXPECT_EQ(d.mx[0], (MxRecord{10, "mx1.example.test"}));
    EXPECT_EQ(d.mx[1], (MxRecord{20, "mx2.example.test"}));
    EXPECT_EQ(d.min_ttl, 60u);
}

TEST(DnsMessage, NullMxIsTheEmptyName) {
    Builder m(1, 0);
    m.rr(15, 300, {0, 0, 0});
    auto d = decode(m, RecordType::Mx);
    ASSERT_TRUE(d.well_formed);
    ASSERT_EQ(d.mx.size(), 1u);
    EXPECT_EQ(d.mx[0], (MxRecord{0, ""}));
}

TEST(DnsMessage, TxtStringsConcatenatedPerRecord) {
    Builder m(2, 0);
    m.rr(16, 10, {3, 'a', 'b', 'c', 2, 'd', 'e'}).rr(16, 10, {1, 'x'});
    auto d = decode(m, RecordType::Txt);
    ASSERT_TRUE(d.well_formed);
    ASSERT_EQ(d.txt.size(), 2u);
    EXPECT_EQ(d.txt[0].text, "abcde");
    EXPECT_EQ(d.txt[0].strings, (std::vector<std::string>{"abc", "de"}));
    EXPECT_EQ(d.txt[1].text, "x");
}

TEST(DnsMessage, TxtStringOverrunningRdataIsMalformed) {
    Builder m(1, 0);
    m.rr(16, 10, {5, 'a', 'b'});
    EXPECT_FALSE(decode(m, RecordType::Txt).well_formed);
}

TEST(DnsMessage, AddressesAndTopBitTtlCountsAsZero) {
    Builder m(2, 0);
    m.rr(1, 0x80000000u, {192, 0, 2, 1}).rr(1, 100, {192, 0, 2, 2});
    auto d = decode(m, RecordType::A);
    ASSERT_TRUE(d.well_formed);
    ASSERT_EQ(d.addresses.size(), 2u);
    EXPECT_EQ(d.addresses[0].to_string(), "192.0.2.1");
    EXPECT_EQ(d.min_ttl, 0u);

    Builder six(1, 0);
    std::vector<uint8_t> v6(16, 0);
    v6[0] = 0x20; v6[1] = 0x01; v6[2] = 0x0d; v6[3] = 0xb8; v6[15] = 1;
    six.rr(28, 5, v6);
    auto d6 = decode(six, RecordType::Aaaa);
    ASSERT_EQ(d6.addresses.size(), 1u);
    EXPECT_EQ(d6.addresses[0].to_string(), "2001:db8::1");
    EXPECT_TRUE(d6.addresses[0].v6);
}

TEST(DnsMessage, WrongAddressLengthIsMalformed) {
    Builder m(1, 0);
    m.rr(1, 100, {192, 0, 2});
    EXPECT_FALSE(decode(m, RecordType::A).well_formed);
}

TEST(DnsMessage, CnameSkippedOnlyTargetRecordsKept) {
    Builder m(2, 0);
    auto target = mx_rdata(0, "real.example.test");
    target.erase(target.begin(), target.begin() + 2);  // a bare name: CNAME RDATA
    m.rr(5, 100, target).rr(1, 50, {127, 0, 0, 9});
    auto d = decode(m, RecordType::A);
    ASSERT_TRUE(d.well_formed);
    ASSERT_EQ(d.addresses.size(), 1u);
    EXPECT_EQ(d.addresses[0].to_string(), "127.0.0.9");
    EXPECT_EQ(d.min_ttl, 50u);
}

TEST(DnsMessage, NegativeTtlIsMinOfSoaTtlAndMinimum) {
    Builder m(0, 1, 3);
    m.rr(6, 900, soa_rdata(120));
    auto d = decode(m, RecordType::Mx);
    ASSERT_TRUE(d.well_formed);
    EXPECT_EQ(d.rcode, 3);
    EXPECT_EQ(d.negative_ttl, 120u);

    Builder n(0, 1);
    n.rr(6, 30, soa_rdata(120));
    EXPECT_EQ(decode(n, RecordType::Mx).negative_ttl, 30u);
}

TEST(DnsMessage, EveryTruncationIsMalformedNeverARead) {
    Builder m(2, 1);
    m.rr(15, 300, mx_rdata(10, "mx1.example.test")).rr(16, 10, {3, 'a', 'b', 'c'});
    m.rr(6, 900, soa_rdata(120));
    ASSERT_TRUE(decode(m, RecordType::Mx).well_formed);
    for (size_t n = 0; n < m.b.size(); ++n) {
        // A copy of exactly n bytes, so a read past it is caught by ASan builds.
        std::vector<uint8_t> cut(m.b.begin(), m.b.begin() + static_cast<long>(n));
        EXPECT_FALSE(decode_message(cut.data(), cut.size(), RecordType::Mx).well_formed) << n;
    }
}

TEST(DnsMessage, CompressionLoopIsMalformed) {
    Builder m(1, 0);
    size_t rdata_at = m.b.size() + 12;  // after pointer, type, class, ttl, rdlength
    // MX whose exchange is a pointer to itself.
    m.rr(15, 300, {0, 10, static_cast<uint8_t>(0xC0 | (rdata_at + 2) >> 8), static_cast<uint8_t>(rdata_at + 2)});
    EXPECT_FALSE(decode(m, RecordType::Mx).well_formed);
}

TEST(DnsMessage, QueryNameNormalizedOrRefused) {
    EXPECT_EQ(query_name("Example.TEST."), "example.test");
    EXPECT_EQ(query_name("_dmarc.example.test"), "_dmarc.example.test");
    EXPECT_FALSE(query_name(""));
    EXPECT_FALSE(query_name("."));
    EXPECT_FALSE(query_name("a..b"));
    EXPECT_FALSE(query_name("a b"));
    EXPECT_FALSE(query_name("a\\.b"));
    EXPECT_FALSE(query_name(std::string(64, 'a') + ".test"));
    EXPECT_TRUE(query_name(std::string(63, 'a') + ".test"));
    std::string long_name;
    while (long_name.size() < 254) long_name += "abcdefghi.";
    EXPECT_FALSE(query_name(long_name));
}

}  // namespace
}  // namespace petrel::dns
