// tests/unit/dns/cache_test.cpp — dns::Cache with a hand-moved clock: TTL expiry with floor and
// cap, negative caching (RFC 2308: SOA TTL or the default, capped), temporary errors not cached
// by default, case-insensitive keys, types kept apart, and the LRU size bound.
#include <gtest/gtest.h>

#include "dns/cache.h"

namespace petrel::dns {
namespace {

using namespace std::chrono_literals;
using Clock = Cache::Clock;

MxAnswer mx_answer(std::chrono::seconds ttl) {
    MxAnswer a;
    a.records = {{10, "mx.example.test"}};
    a.ttl = ttl;
    return a;
}

AddressAnswer negative(Status s, std::chrono::seconds ttl) {
    AddressAnswer a;
    a.status = s;
    a.ttl = ttl;
    return a;
}

CacheOptions opts() {
    CacheOptions o;
    o.min_ttl = 5s;
    o.max_ttl = 3600s;
    o.negative_ttl = 300s;
    o.max_negative_ttl = 1800s;
    return o;
}

const Clock::time_point t0{};

TEST(DnsCache, HitUntilTtlThenMiss) {
    Cache c(opts());
    c.put(RecordType::Mx, "example.test", mx_answer(60s), t0);
    auto hit = c.get<MxRecord>(RecordType::Mx, "example.test", t0 + 59s);
    ASSERT_TRUE(hit);
    EXPECT_TRUE(hit->from_cache);
    EXPECT_EQ(hit->ttl, 1s);
    EXPECT_EQ(hit->records, mx_answer(60s).records);
    EXPECT_FALSE(c.get<MxRecord>(RecordType::Mx, "example.test", t0 + 60s));
    EXPECT_EQ(c.size(), 0u);  // the expired entry was dropped
}

TEST(DnsCache, TtlFloorAndCap) {
    Cache c(opts());
    c.put(RecordType::Mx, "zero.test", mx_answer(0s), t0);
    EXPECT_TRUE(c.get<MxRecord>(RecordType::Mx, "zero.test", t0 + 4s));
    EXPECT_FALSE(c.get<MxRecord>(RecordType::Mx, "zero.test", t0 + 5s));
    c.put(RecordType::Mx, "week.test", mx_answer(604800s), t0);
    EXPECT_TRUE(c.get<MxRecord>(RecordType::Mx, "week.test", t0 + 3599s));
    EXPECT_FALSE(c.get<MxRecord>(RecordType::Mx, "week.test", t0 + 3600s));
}

TEST(DnsCache, NegativeAnswersUseSoaTtlOrDefaultCapped) {
    Cache c(opts());
    c.put(RecordType::A, "nx.test", negative(Status::NxDomain, 120s), t0);
    auto hit = c.get<IpAddress>(RecordType::A, "nx.test", t0 + 119s);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->status, Status::NxDomain);
    EXPECT_FALSE(c.get<IpAddress>(RecordType::A, "nx.test", t0 + 120s));

    c.put(RecordType::A, "nodata.test", negative(Status::NoData, 0s), t0);  // no SOA: default
    EXPECT_EQ(c.get<IpAddress>(RecordType::A, "nodata.test", t0 + 299s)->status, Status::NoData);
    EXPECT_FALSE(c.get<IpAddress>(RecordType::A, "nodata.test", t0 + 300s));

    c.put(RecordType::A, "long.test", negative(Status::NxDomain, 86400s), t0);  // capped
    EXPECT_TRUE(c.get<IpAddress>(RecordType::A, "long.test", t0 + 1799s));
    EXPECT_FALSE(c.get<IpAddress>(RecordType::A, "long.test", t0 + 1800s));
}

TEST(DnsCache, TemporaryErrorsNotCachedByDefaultBadNameNever) {
    Cache c(opts());
    c.put(RecordType::A, "sf.test", negative(Status::ServFail, 0s), t0);
    c.put(RecordType::A, "to.test", negative(Status::Timeout, 0s), t0);
    c.put(RecordType::A, "bad.test", negative(Status::BadName, 0s), t0);
    EXPECT_EQ(c.size(), 0u);

    CacheOptions o = opts();
    o.temporary_ttl = 30s;
    Cache brief(o);
    brief.put(RecordType::A, "sf.test", negative(Status::ServFail, 0s), t0);
    EXPECT_EQ(brief.get<IpAddress>(RecordType::A, "sf.test", t0 + 29s)->status, Status::ServFail);
    EXPECT_FALSE(brief.get<IpAddress>(RecordType::A, "sf.test", t0 + 30s));
}

TEST(DnsCache, KeysIgnoreCaseAndTrailingDotTypesApart) {
    Cache c(opts());
    c.put(RecordType::Mx, "Example.TEST.", mx_answer(60s), t0);
    EXPECT_TRUE(c.get<MxRecord>(RecordType::Mx, "example.test", t0));
    EXPECT_FALSE(c.get<IpAddress>(RecordType::A, "example.test", t0));
    EXPECT_FALSE(c.get<TxtRecord>(RecordType::Txt, "example.test", t0));
}

TEST(DnsCache, SizeBoundEvictsLeastRecentlyUsed) {
    CacheOptions o = opts();
    o.max_entries = 3;
    Cache c(o);
    c.put(RecordType::Mx, "a.test", mx_answer(60s), t0);
    c.put(RecordType::Mx, "b.test", mx_answer(60s), t0);
    c.put(RecordType::Mx, "c.test", mx_answer(60s), t0);
    ASSERT_TRUE(c.get<MxRecord>(RecordType::Mx, "a.test", t0));  // a is now the most recent
    c.put(RecordType::Mx, "d.test", mx_answer(60s), t0);
    EXPECT_EQ(c.size(), 3u);
    EXPECT_FALSE(c.get<MxRecord>(RecordType::Mx, "b.test", t0));
    EXPECT_TRUE(c.get<MxRecord>(RecordType::Mx, "a.test", t0));
    EXPECT_TRUE(c.get<MxRecord>(RecordType::Mx, "c.test", t0));
    EXPECT_TRUE(c.get<MxRecord>(RecordType::Mx, "d.test", t0));
    for (int i = 0; i < 1000; ++i) c.put(RecordType::Mx, "n" + std::to_string(i) + ".test", mx_answer(60s), t0);
    EXPECT_EQ(c.size(), 3u);
}

TEST(DnsCache, ReplacingAnEntryRenewsIt) {
    Cache c(opts());
    c.put(RecordType::Mx, "a.test", mx_answer(10s), t0);
    MxAnswer newer = mx_answer(100s);
    newer.records[0].exchange = "mx2.example.test";
    c.put(RecordType::Mx, "a.test", newer, t0 + 9s);
    auto hit = c.get<MxRecord>(RecordType::Mx, "a.test", t0 + 50s);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->records[0].exchange, "mx2.example.test");
    EXPECT_EQ(c.size(), 1u);
}

}  // namespace
}  // namespace petrel::dns
