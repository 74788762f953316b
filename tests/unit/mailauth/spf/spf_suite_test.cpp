// tests/unit/mailauth/spf/spf_suite_test.cpp — the OpenSPF RFC 7208 conformance suite (203
// tests, /work/shared/conformance/spf/rfc7208-tests.yml) against spf::check_mail_from, each
// scenario's zone served by ZoneLookups. A test passes when the result is one of those the
// suite allows and, where the suite gives one, the explanation matches ("DEFAULT" stands for
// "no exp= text", as in pyspf's driver). The RFC 4408 suite runs too, for information only:
// RFC 7208 changed some answers on purpose (e.g. more than 10 MX is now permerror).
#include <gtest/gtest.h>

#include <iostream>

#include "mailauth/spf/check_host.h"
#include "unit/mailauth/spf/rfc4408_tests.inc"
#include "unit/mailauth/spf/rfc7208_tests.inc"
#include "unit/mailauth/spf/zone_lookups.h"

namespace petrel::mailauth::spf {
namespace {

using testing::ZoneLookups;

struct SuiteRun {
    int total = 0;
    int passed = 0;
    std::vector<std::string> failures;
};

SuiteRun run_suite(const char* json) {
    SuiteRun run;
    boost::json::value suite = boost::json::parse(json);
    for (const auto& scenario_v : suite.as_array()) {
        const auto& scenario = scenario_v.as_object();
        for (const auto& test_v : scenario.at("tests").as_array()) {
            const auto& test = test_v.as_object();
            ZoneLookups zone(scenario.at("zone").as_object());  // fresh per test: no shared state
            Request request;
            std::string host(test.at("host").as_string());
            ++run.total;
            std::string name(test.at("name").as_string());
            if (!testing::parse_ip(host, request.ip)) {
                run.failures.push_back(name + ": bad client address " + host);
                continue;
            }
            request.sender = testing::zone_text(test.at("mailfrom"));
            request.helo = testing::zone_text(test.at("helo"));
            request.receiver = "receiver.example.net";
            Outcome out = check_mail_from(zone, request);
            std::string got = to_string(out.result);
            bool ok = !out.pending;
            bool allowed = false;
            std::string expected;
            for (const auto& r : test.at("result").as_array()) {
                expected += (expected.empty() ? "" : "|") + std::string(r.as_string());
                allowed = allowed || r.as_string() == got;
            }
            ok = ok && allowed;
            std::string exp_got = out.explanation.empty() ? "DEFAULT" : out.explanation;
            if (const auto* e = test.if_contains("explanation")) {
                std::string want = testing::zone_text(*e);
                if (want != exp_got) {
                    ok = false;
                    expected += " exp='" + want + "'";
                }
            }
            if (ok) {
                ++run.passed;
            } else {
                run.failures.push_back(name + " (" + std::string(test.at("spec").as_string()) +
                                       "): got " + got + " exp='" + exp_got + "' (" + out.reason +
                                       "), want " + expected);
            }
        }
    }
    return run;
}

TEST(SpfSuite, Rfc7208AllPass) {
    SuiteRun run = run_suite(k_rfc7208_tests_json);
    std::cout << "RFC 7208 suite: " << run.passed << "/" << run.total << " pass\n";
    for (const auto& f : run.failures) ADD_FAILURE() << f;
    EXPECT_EQ(run.total, 203);
    EXPECT_EQ(run.passed, run.total);
}

// Informational: prints the RFC 4408 pass count and the differences.
TEST(SpfSuite, Rfc4408Informational) {
    SuiteRun run = run_suite(k_rfc4408_tests_json);
    std::cout << "RFC 4408 suite (historic): " << run.passed << "/" << run.total << " pass\n";
    for (const auto& f : run.failures) std::cout << "  differs: " << f << "\n";
    EXPECT_EQ(run.total, 191);
}

}  // namespace
}  // namespace petrel::mailauth::spf
