// tests/unit/mailauth/spf/spf_resolver_check_test.cpp — the asynchronous driver
// (resolver_check.h) over a dns::Resolver gives the same outcome as the pure evaluator on
// every case of the RFC 7208 suite, asks each question at most once, and reaches PTR.
// The resolver serves the suite's zones (ZoneLookups) and answers through the io_context
// (asio::post), so every lookup really suspends the check.
#include <gtest/gtest.h>

#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "mailauth/spf/resolver_check.h"
#include "unit/mailauth/spf/rfc7208_tests.inc"
#include "unit/mailauth/spf/zone_lookups.h"

namespace petrel::mailauth::spf {
namespace {

namespace asio = boost::asio;
using testing::ZoneLookups;

class ZoneResolver final : public dns::Resolver {
public:
    explicit ZoneResolver(const boost::json::object& zone) : zone_(zone) {}

    asio::awaitable<dns::MxAnswer> mx(std::string n) override { return serve(&ZoneLookups::mx, "MX", n); }
    asio::awaitable<dns::AddressAnswer> a(std::string n) override { return serve(&ZoneLookups::a, "A", n); }
    asio::awaitable<dns::AddressAnswer> aaaa(std::string n) override { return serve(&ZoneLookups::aaaa, "AAAA", n); }
    asio::awaitable<dns::TxtAnswer> txt(std::string n) override { return serve(&ZoneLookups::txt, "TXT", n); }
    asio::awaitable<dns::PtrAnswer> ptr(std::string n) override { return serve(&ZoneLookups::ptr, "PTR", n); }

    int max_repeats() const {
        int m = 0;
        for (const auto& [k, v] : asked_) m = std::max(m, v);
        return m;
    }

private:
    // Answers from the zone, but only after a trip through the io_context.
    template <class A>
    asio::awaitable<A> serve(const A* (ZoneLookups::*method)(const std::string&), const char* type,
                             std::string name) {
        ++asked_[std::string(type) + " " + name];
        const A* answer = (zone_.*method)(name);
        auto executor = co_await asio::this_coro::executor;
        co_await asio::post(executor, asio::use_awaitable);
        co_return *answer;
    }

    ZoneLookups zone_;
    std::map<std::string, int> asked_;
};

TEST(SpfResolverCheck, SameOutcomeAsPureEvaluatorOnTheSuite) {
    boost::json::value suite = boost::json::parse(k_rfc7208_tests_json);
    int cases = 0;
    for (const auto& scenario_v : suite.as_array()) {
        const auto& scenario = scenario_v.as_object();
        for (const auto& test_v : scenario.at("tests").as_array()) {
            const auto& test = test_v.as_object();
            Request request;
            ASSERT_TRUE(testing::parse_ip(std::string(test.at("host").as_string()), request.ip));
            request.sender = testing::zone_text(test.at("mailfrom"));
            request.helo = testing::zone_text(test.at("helo"));
            ZoneLookups pure_zone(scenario.at("zone").as_object());
            Outcome pure = check_mail_from(pure_zone, request);

            asio::io_context io;
            ZoneResolver resolver(scenario.at("zone").as_object());
            auto future = asio::co_spawn(io, check_mail_from(resolver, request), asio::use_future);
            io.run();
            Outcome driven = future.get();
            std::string name(test.at("name").as_string());
            EXPECT_FALSE(driven.pending) << name;
            EXPECT_EQ(to_string(driven.result), std::string(to_string(pure.result))) << name;
            EXPECT_EQ(driven.explanation, pure.explanation) << name;
            EXPECT_LE(resolver.max_repeats(), 1) << name << ": a question was asked twice";
            ++cases;
        }
    }
    EXPECT_EQ(cases, 203);
}

TEST(SpfResolverCheck, HeloIdentityUsesHeloDomain) {
    boost::json::object zone = boost::json::parse(R"({
        "mail.example.test": [{"type": "TXT", "strings": ["v=spf1 a -all"]},
                              {"type": "A", "value": "192.0.2.10"}]})").as_object();
    asio::io_context io;
    ZoneResolver resolver(zone);
    Request request;
    request.ip = *parse_ip4("192.0.2.10");
    request.helo = "mail.example.test";
    request.sender = "someone@elsewhere.test";
    auto future = asio::co_spawn(io, check_helo(resolver, request), asio::use_future);
    io.run();
    Outcome out = future.get();
    EXPECT_EQ(out.result, Result::Pass);
    EXPECT_EQ(out.domain, "mail.example.test");
}

}  // namespace
}  // namespace petrel::mailauth::spf
