// tests/unit/dns/cares_resolver_test.cpp — CaresResolver, CachingResolver and plan_mx against a
// real dnsmasq on 127.0.0.1: MX with preferences, A, AAAA, TXT (several strings per record, and
// one too long for UDP so c-ares goes over TCP), NXDOMAIN, NoData, a null MX, a CNAME, a server
// that never answers (Timeout) and a closed port (temporary), the cache answering after the
// server was killed, and shutdown with a lookup pending. Skipped when dnsmasq is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "dns/caching_resolver.h"
#include "dns/cares_resolver.h"
#include "dns/mx_lookup.h"
#include "dnsmasq.h"

namespace petrel::dns {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::Dnsmasq;

// Runs one lookup on `io` to completion (at most 20 s of io time).
template <class T>
T run(asio::io_context& io, asio::awaitable<T> op) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
        if (e) std::rethrow_exception(e);
        out = std::move(value);
    });
    io.restart();
    io.run_for(20s);
    if (!out) throw std::runtime_error("lookup did not complete");
    return std::move(*out);
}

std::vector<std::string> addresses(const AddressAnswer& a) {
    std::vector<std::string> out;
    for (const auto& ip : a.records) out.push_back(ip.to_string());
    return out;
}

const std::string kLongA(250, 'a');
const std::string kLongB(200, 'b');

std::vector<std::string> zone() {
    std::vector<std::string> r = {
        "--mx-host=petrel.test,mx1.petrel.test,10",
        "--mx-host=petrel.test,mx2.petrel.test,20",
        "--mx-host=null.petrel.test,.,0",
        "--mx-host=alias-mx.petrel.test,alias.petrel.test,5",
        "--host-record=mx1.petrel.test,127.0.0.11",
        "--host-record=mx2.petrel.test,127.0.0.12,::1",
        "--host-record=plain.petrel.test,127.0.0.13",
        "--cname=alias.petrel.test,mx1.petrel.test",
        // Strings are separated by commas; no quotes (they are for dnsmasq.conf and shells).
        "--txt-record=spf.petrel.test,v=spf1 ,ip4:127.0.0.1 -all",
        "--txt-record=spf.petrel.test,second record",
        "--txt-record=long.petrel.test," + kLongA + "," + kLongB,
    };
    // Over 1232 bytes of TXT: too big for the EDNS0 UDP answer, so it comes over TCP.
    std::string huge = "--txt-record=huge.petrel.test";
    for (int i = 0; i < 8; ++i) huge += "," + std::string(250, static_cast<char>('c' + i));
    r.push_back(huge);
    return r;
}

class DnsResolverTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::dnsmasq_available()) GTEST_SKIP() << "dnsmasq not installed (Debian dnsmasq-base)";
        server_.emplace("petrel.test", zone());
        CaresOptions o;
        o.servers = {server_->server()};
        o.timeout = 1000ms;
        o.attempts = 2;
        resolver_.emplace(io_.get_executor(), o);
    }

    asio::io_context io_;
    std::optional<Dnsmasq> server_;
    std::optional<CaresResolver> resolver_;
};

TEST_F(DnsResolverTest, ServersAreTheConfiguredOnes) {
    EXPECT_EQ(resolver_->servers(), server_->server());
}

TEST_F(DnsResolverTest, MxWithPreferencesAndTtl) {
    auto mx = run(io_, resolver_->mx("petrel.test"));
    ASSERT_EQ(mx.status, Status::Ok) << to_string(mx.status);
    ASSERT_EQ(mx.records.size(), 2u);
    std::sort(mx.records.begin(), mx.records.end(),
              [](auto& x, auto& y) { return x.preference < y.preference; });
    EXPECT_EQ(mx.records[0], (MxRecord{10, "mx1.petrel.test"}));
    EXPECT_EQ(mx.records[1], (MxRecord{20, "mx2.petrel.test"}));
    EXPECT_EQ(mx.ttl, 300s);
    EXPECT_FALSE(mx.from_cache);
}

TEST_F(DnsResolverTest, AAndAaaa) {
    auto a = run(io_, resolver_->a("MX2.petrel.test."));
    ASSERT_EQ(a.status, Status::Ok);
    EXPECT_EQ(addresses(a), (std::vector<std::string>{"127.0.0.12"}));
    auto aaaa = run(io_, resolver_->aaaa("mx2.petrel.test"));
    ASSERT_EQ(aaaa.status, Status::Ok);
    EXPECT_EQ(addresses(aaaa), (std::vector<std::string>{"::1"}));
    EXPECT_TRUE(aaaa.records[0].v6);
}

TEST_F(DnsResolverTest, TxtRecordsJoinTheirStrings) {
    auto t = run(io_, resolver_->txt("spf.petrel.test"));
    ASSERT_EQ(t.status, Status::Ok);
    ASSERT_EQ(t.records.size(), 2u);
    std::vector<std::string> texts = {t.records[0].text, t.records[1].text};
    std::sort(texts.begin(), texts.end());
    EXPECT_EQ(texts, (std::vector<std::string>{"second record", "v=spf1 ip4:127.0.0.1 -all"}));
    for (const auto& r : t.records) {
        if (r.text.starts_with("v=spf1")) {
            EXPECT_EQ(r.strings, (std::vector<std::string>{"v=spf1 ", "ip4:127.0.0.1 -all"}));
        }
    }
    auto l = run(io_, resolver_->txt("long.petrel.test"));
    ASSERT_EQ(l.status, Status::Ok);
    ASSERT_EQ(l.records.size(), 1u);
    EXPECT_EQ(l.records[0].strings.size(), 2u);
    EXPECT_EQ(l.records[0].text, kLongA + kLongB);
}

TEST_F(DnsResolverTest, TxtTooLongForUdpComesOverTcp) {
    auto h = run(io_, resolver_->txt("huge.petrel.test"));
    ASSERT_EQ(h.status, Status::Ok) << to_string(h.status);
    ASSERT_EQ(h.records.size(), 1u);
    EXPECT_EQ(h.records[0].strings.size(), 8u);
    EXPECT_EQ(h.records[0].text.size(), 2000u);
    EXPECT_EQ(h.records[0].text.substr(1750), std::string(250, 'j'));
}

TEST_F(DnsResolverTest, NxDomainAndNoDataArePermanentAndDistinct) {
    auto nx = run(io_, resolver_->mx("nowhere.petrel.test"));
    EXPECT_EQ(nx.status, Status::NxDomain);
    EXPECT_TRUE(nx.permanent());
    auto nodata = run(io_, resolver_->mx("plain.petrel.test"));
    EXPECT_EQ(nodata.status, Status::NoData);
    EXPECT_TRUE(nodata.permanent());
    EXPECT_TRUE(nodata.records.empty());
    auto no_aaaa = run(io_, resolver_->aaaa("mx1.petrel.test"));
    EXPECT_EQ(no_aaaa.status, Status::NoData);
}

TEST_F(DnsResolverTest, BadNameIsRefusedWithoutAQuery) {
    auto bad = run(io_, resolver_->a("a..petrel.test"));
    EXPECT_EQ(bad.status, Status::BadName);
    EXPECT_TRUE(bad.permanent());
}

TEST_F(DnsResolverTest, ManyConcurrentLookupsAllAnswered) {
    int done = 0, ok = 0;
    for (int i = 0; i < 100; ++i) {
        const char* name = i % 2 ? "mx1.petrel.test" : "plain.petrel.test";
        asio::co_spawn(io_, resolver_->a(name), [&](std::exception_ptr, AddressAnswer a) {
            ++done;
            ok += a.ok();
        });
    }
    io_.run_for(20s);
    EXPECT_EQ(done, 100);
    EXPECT_EQ(ok, 100);
}

TEST_F(DnsResolverTest, MxPlanEndToEnd) {
    std::mt19937_64 rng(1);
    auto plan = run(io_, plan_mx(*resolver_, "petrel.test", {}, rng));
    ASSERT_EQ(plan.status, PlanStatus::Ok) << plan.reason;
    ASSERT_EQ(plan.targets.size(), 2u);
    EXPECT_EQ(plan.targets[0].host, "mx1.petrel.test");
    EXPECT_EQ(plan.targets[0].addresses[0].to_string(), "127.0.0.11");
    EXPECT_EQ(plan.targets[1].host, "mx2.petrel.test");
    ASSERT_EQ(plan.targets[1].addresses.size(), 2u);
    EXPECT_EQ(plan.targets[1].addresses[1].to_string(), "::1");

    auto implicit = run(io_, plan_mx(*resolver_, "plain.petrel.test", {}, rng));
    ASSERT_EQ(implicit.status, PlanStatus::Ok) << implicit.reason;
    EXPECT_TRUE(implicit.targets[0].implicit);
    EXPECT_EQ(implicit.targets[0].addresses[0].to_string(), "127.0.0.13");

    EXPECT_EQ(run(io_, plan_mx(*resolver_, "nowhere.petrel.test", {}, rng)).status, PlanStatus::NoSuchDomain);
    EXPECT_EQ(run(io_, plan_mx(*resolver_, "null.petrel.test", {}, rng)).status, PlanStatus::NullMx);

    // MX → CNAME → A: the server follows the alias.
    auto alias = run(io_, plan_mx(*resolver_, "alias-mx.petrel.test", {}, rng));
    ASSERT_EQ(alias.status, PlanStatus::Ok) << alias.reason;
    EXPECT_EQ(alias.targets[0].host, "alias.petrel.test");
    EXPECT_EQ(alias.targets[0].addresses[0].to_string(), "127.0.0.11");
}

TEST_F(DnsResolverTest, CacheAnswersAfterTheServerIsGone) {
    auto clock = Cache::Clock::time_point{} + 1000h;
    CacheOptions co;
    CachingResolver cached(*resolver_, co, [&] { return clock; });
    auto first = run(io_, cached.mx("petrel.test"));
    ASSERT_EQ(first.status, Status::Ok);
    EXPECT_FALSE(first.from_cache);
    auto nx = run(io_, cached.a("nowhere.petrel.test"));
    ASSERT_EQ(nx.status, Status::NxDomain);

    server_->stop();
    clock += 299s;
    auto again = run(io_, cached.mx("PETREL.test"));
    ASSERT_EQ(again.status, Status::Ok);
    EXPECT_TRUE(again.from_cache);
    EXPECT_EQ(again.records, first.records);
    EXPECT_EQ(again.ttl, 1s);
    auto nx_again = run(io_, cached.a("nowhere.petrel.test"));  // negative caching (RFC 2308)
    EXPECT_EQ(nx_again.status, Status::NxDomain);
    EXPECT_TRUE(nx_again.from_cache);

    clock += 1s;  // expired: asks the (dead) server, gets a temporary error
    auto gone = run(io_, cached.mx("petrel.test"));
    EXPECT_TRUE(gone.temporary()) << to_string(gone.status);
}

class DnsUnreachableTest : public ::testing::Test {};

// Options for one server on 127.0.0.1:port, one try.
CaresOptions one_server(uint16_t port, std::chrono::milliseconds timeout) {
    CaresOptions o;
    o.servers = {"127.0.0.1:" + std::to_string(port)};
    o.timeout = timeout;
    o.attempts = 1;
    return o;
}

TEST_F(DnsUnreachableTest, SilentServerTimesOutWithinTheBudget) {
    uint16_t port = 0;
    int hole = testing::bind_loopback(SOCK_DGRAM, port);  // bound, never read: no answer
    ASSERT_GE(hole, 0);
    asio::io_context io;
    CaresResolver r(io.get_executor(), one_server(port, 200ms));
    auto start = std::chrono::steady_clock::now();
    auto a = run(io, r.a("petrel.test"));
    auto took = std::chrono::steady_clock::now() - start;
    close(hole);
    EXPECT_EQ(a.status, Status::Timeout) << to_string(a.status);
    EXPECT_TRUE(a.temporary());
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, 3s);
}

TEST_F(DnsUnreachableTest, ClosedPortIsTemporary) {
    auto port = testing::free_dns_port();
    asio::io_context io;
    CaresResolver r(io.get_executor(), one_server(port, 200ms));
    auto a = run(io, r.mx("petrel.test"));
    EXPECT_TRUE(a.temporary()) << to_string(a.status);
}

TEST_F(DnsUnreachableTest, DestroyedWithALookupPendingCompletesItCancelled) {
    uint16_t port = 0;
    int hole = testing::bind_loopback(SOCK_DGRAM, port);
    ASSERT_GE(hole, 0);
    asio::io_context io;
    std::optional<CaresResolver> r(std::in_place, io.get_executor(), one_server(port, 5000ms));
    std::optional<AddressAnswer> out;
    asio::co_spawn(io, r->a("petrel.test"), [&](std::exception_ptr, AddressAnswer a) { out = a; });
    io.run_for(50ms);
    EXPECT_FALSE(out);
    r.reset();
    io.restart();
    io.run_for(2s);
    close(hole);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->status, Status::Cancelled);
}

TEST(DnsResolverConfig, MalformedServerThrowsAtStartUp) {
    asio::io_context io;
    CaresOptions o;
    o.servers = {"not an address"};
    EXPECT_THROW(CaresResolver(io.get_executor(), o), std::runtime_error);
}

}  // namespace
}  // namespace petrel::dns
