// tests/unit/dns/mx_plan_test.cpp — the RFC 5321 §5.1 / RFC 7505 rules of dns/mx_plan.h with a
// seeded RNG: preference order, equal preferences shuffled (every order seen, groups never
// mixed), implicit MX on NoData but not on NXDOMAIN, null MX, IP-literal MX, ourselves in the
// list, and how address answers become targets.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <arpa/inet.h>

#include "dns/mx_plan.h"

namespace petrel::dns {
namespace {

MxAnswer mx(std::vector<MxRecord> records) {
    MxAnswer a;
    a.records = std::move(records);
    return a;
}

MxAnswer status(Status s) {
    MxAnswer a;
    a.status = s;
    return a;
}

std::vector<std::string> names(const HostList& h) {
    std::vector<std::string> out;
    for (const auto& x : h.hosts) out.push_back(x.name);
    return out;
}

AddressAnswer addrs(std::vector<std::string> ips) {
    AddressAnswer a;
    for (const auto& s : ips) {
        uint8_t b[16];
        if (inet_pton(AF_INET, s.c_str(), b) == 1) a.records.push_back(IpAddress::v4_from(b));
        else if (inet_pton(AF_INET6, s.c_str(), b) == 1) a.records.push_back(IpAddress::v6_from(b));
    }
    if (a.records.empty()) a.status = Status::NoData;
    return a;
}

AddressAnswer failed(Status s) {
    AddressAnswer a;
    a.status = s;
    return a;
}

std::vector<std::string> strings(const std::vector<IpAddress>& v) {
    std::vector<std::string> out;
    for (const auto& ip : v) out.push_back(ip.to_string());
    return out;
}

TEST(MxPlan, SortedByPreference) {
    std::mt19937_64 rng(1);
    auto h = choose_hosts("example.test",
                          mx({{30, "c.example.test"}, {10, "A.example.test."}, {20, "b.example.test"}}),
                          {}, rng);
    ASSERT_EQ(h.status, PlanStatus::Ok);
    EXPECT_EQ(names(h), (std::vector<std::string>{"a.example.test", "b.example.test", "c.example.test"}));
    EXPECT_FALSE(h.hosts[0].implicit);
}

TEST(MxPlan, EqualPreferencesShuffledWithinTheirGroupOnly) {
    std::map<std::vector<std::string>, int> seen;
    for (uint64_t seed = 0; seed < 200; ++seed) {
        std::mt19937_64 rng(seed);
        auto h = choose_hosts("example.test",
                              mx({{10, "a.test"}, {10, "b.test"}, {10, "c.test"}, {5, "first.test"},
                                  {20, "last.test"}}),
                              {}, rng);
        auto n = names(h);
        ASSERT_EQ(n.size(), 5u);
        EXPECT_EQ(n.front(), "first.test");
        EXPECT_EQ(n.back(), "last.test");
        ++seen[{n.begin() + 1, n.end() - 1}];
    }
    EXPECT_EQ(seen.size(), 6u);  // all 3! orders of the equal group occur
    // Same seed, same order: plans are reproducible in tests.
    std::mt19937_64 r1(7), r2(7);
    auto in = mx({{10, "a.test"}, {10, "b.test"}, {10, "c.test"}});
    EXPECT_EQ(names(choose_hosts("x.test", in, {}, r1)), names(choose_hosts("x.test", in, {}, r2)));
}

TEST(MxPlan, NoDataFallsBackToTheDomainItself) {
    std::mt19937_64 rng(1);
    auto h = choose_hosts("Example.test", status(Status::NoData), {}, rng);
    ASSERT_EQ(h.status, PlanStatus::Ok);
    ASSERT_EQ(h.hosts.size(), 1u);
    EXPECT_EQ(h.hosts[0].name, "example.test");
    EXPECT_TRUE(h.hosts[0].implicit);
    EXPECT_EQ(h.hosts[0].preference, 0);
}

TEST(MxPlan, NxDomainIsPermanentWithoutFallback) {
    std::mt19937_64 rng(1);
    auto h = choose_hosts("nowhere.test", status(Status::NxDomain), {}, rng);
    EXPECT_EQ(h.status, PlanStatus::NoSuchDomain);
    EXPECT_TRUE(is_permanent(h.status));
    EXPECT_TRUE(h.hosts.empty());
}

TEST(MxPlan, TemporaryFailuresAreTemporary) {
    for (Status s : {Status::ServFail, Status::Timeout, Status::Refused, Status::Unreachable,
                     Status::Malformed, Status::Cancelled}) {
        std::mt19937_64 rng(1);
        auto h = choose_hosts("example.test", status(s), {}, rng);
        EXPECT_EQ(h.status, PlanStatus::Temporary) << to_string(s);
        EXPECT_FALSE(is_permanent(h.status));
    }
}

TEST(MxPlan, NullMxIsPermanent) {
    std::mt19937_64 rng(1);
    auto h = choose_hosts("nomail.test", mx({{0, ""}}), {}, rng);
    EXPECT_EQ(h.status, PlanStatus::NullMx);
    EXPECT_TRUE(is_permanent(h.status));
    // A "." mixed with real MX records (forbidden by RFC 7505 §3) is skipped, not obeyed.
    auto mixed = choose_hosts("odd.test", mx({{0, ""}, {10, "mx.odd.test"}}), {}, rng);
    ASSERT_EQ(mixed.status, PlanStatus::Ok);
    EXPECT_EQ(names(mixed), (std::vector<std::string>{"mx.odd.test"}));
}

TEST(MxPlan, IpLiteralMxUsedAsItsAddress) {
    std::mt19937_64 rng(1);
    auto h = choose_hosts("lit.test", mx({{10, "127.0.0.5"}, {20, "::1"}}), {}, rng);
    ASSERT_EQ(h.hosts.size(), 2u);
    ASSERT_TRUE(h.hosts[0].literal);
    auto plan = finish_plan(h, {{}, {}}, {});
    ASSERT_EQ(plan.status, PlanStatus::Ok);
    ASSERT_EQ(plan.targets.size(), 2u);
    EXPECT_EQ(strings(plan.targets[0].addresses), (std::vector<std::string>{"127.0.0.5"}));
    EXPECT_EQ(strings(plan.targets[1].addresses), (std::vector<std::string>{"::1"}));
}

TEST(MxPlan, OurselvesInTheListDropsUsAndEveryoneWorse) {
    PlanOptions o;
    o.local_names = {"mx2.example.test"};
    std::mt19937_64 rng(1);
    auto h = choose_hosts("example.test",
                          mx({{10, "mx1.example.test"}, {20, "mx2.example.test"}, {20, "peer.test"},
                              {30, "mx3.example.test"}}),
                          o, rng);
    ASSERT_EQ(h.status, PlanStatus::Ok);
    EXPECT_EQ(names(h), (std::vector<std::string>{"mx1.example.test"}));
    o.local_names = {"mx1.example.test"};
    auto self = choose_hosts("example.test", mx({{10, "mx1.example.test"}, {20, "b.test"}}), o, rng);
    EXPECT_EQ(self.status, PlanStatus::LoopsToSelf);
    EXPECT_TRUE(is_permanent(self.status));
}

TEST(MxPlan, DuplicatesDroppedAndHostCountCapped) {
    PlanOptions o;
    o.max_hosts = 3;
    std::mt19937_64 rng(1);
    auto h = choose_hosts("example.test",
                          mx({{10, "a.test"}, {20, "A.test"}, {30, "b.test"}, {40, "c.test"}, {50, "d.test"}}),
                          o, rng);
    EXPECT_EQ(names(h), (std::vector<std::string>{"a.test", "b.test", "c.test"}));
}

TEST(MxPlan, TargetsGetAddressesInFamilyOrderHostsWithoutAreSkipped) {
    std::mt19937_64 rng(1);
    auto h = choose_hosts("example.test", mx({{10, "a.test"}, {20, "b.test"}, {30, "c.test"}}), {}, rng);
    std::vector<HostAddresses> found = {
        {addrs({"127.0.0.1", "127.0.0.2"}), addrs({"::1"})},
        {failed(Status::NxDomain), failed(Status::NoData)},
        {addrs({"127.0.0.2", "127.0.0.3"}), failed(Status::NoData)},  // .2 already listed
    };
    auto plan = finish_plan(h, found, {});
    ASSERT_EQ(plan.status, PlanStatus::Ok);
    ASSERT_EQ(plan.targets.size(), 2u);
    EXPECT_EQ(plan.targets[0].host, "a.test");
    EXPECT_EQ(strings(plan.targets[0].addresses), (std::vector<std::string>{"127.0.0.1", "127.0.0.2", "::1"}));
    EXPECT_EQ(plan.targets[1].host, "c.test");
    EXPECT_EQ(strings(plan.targets[1].addresses), (std::vector<std::string>{"127.0.0.3"}));

    PlanOptions v6;
    v6.prefer_ipv6 = true;
    EXPECT_EQ(strings(finish_plan(h, found, v6).targets[0].addresses),
              (std::vector<std::string>{"::1", "127.0.0.1", "127.0.0.2"}));
    PlanOptions only4;
    only4.families = Families::Ipv4Only;
    EXPECT_EQ(strings(finish_plan(h, found, only4).targets[0].addresses),
              (std::vector<std::string>{"127.0.0.1", "127.0.0.2"}));
}

TEST(MxPlan, NoAddressAnywherePermanentUnlessALookupFailedTemporarily) {
    std::mt19937_64 rng(1);
    auto h = choose_hosts("example.test", mx({{10, "a.test"}, {20, "b.test"}}), {}, rng);
    auto perm = finish_plan(h, {{failed(Status::NxDomain), failed(Status::NxDomain)},
                                {failed(Status::NoData), failed(Status::NoData)}}, {});
    EXPECT_EQ(perm.status, PlanStatus::NoAddress);
    EXPECT_TRUE(perm.permanent());
    auto temp = finish_plan(h, {{failed(Status::NxDomain), failed(Status::NxDomain)},
                                {failed(Status::Timeout), failed(Status::NoData)}}, {});
    EXPECT_EQ(temp.status, PlanStatus::Temporary);
    EXPECT_FALSE(temp.permanent());
    EXPECT_NE(temp.reason.find("b.test"), std::string::npos);
    // One host reachable despite another's temporary failure: a plan.
    auto some = finish_plan(h, {{failed(Status::Timeout), failed(Status::Timeout)},
                                {addrs({"127.0.0.7"}), failed(Status::NoData)}}, {});
    ASSERT_EQ(some.status, PlanStatus::Ok);
    EXPECT_EQ(some.targets[0].host, "b.test");
}

TEST(MxPlan, FailedHostListPassesThrough) {
    std::mt19937_64 rng(1);
    auto plan = finish_plan(choose_hosts("nomail.test", mx({{0, ""}}), {}, rng), {}, {});
    EXPECT_EQ(plan.status, PlanStatus::NullMx);
    EXPECT_TRUE(plan.targets.empty());
    EXPECT_FALSE(plan.reason.empty());
}

}  // namespace
}  // namespace petrel::dns
