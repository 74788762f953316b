// tests/unit/mailauth/arc/arc_verifier_test.cpp — ARC beyond the conformance suite: the
// structure rules on hand-made header sets (RFC 8617 §4.2.1 instance range, §5.2 steps 1–3),
// the AAR instance prefix (§4.1.1), oldest-pass (§5.2 step 5), the key names an async caller
// prefetches, a temporary key failure, the work bound, and verify_with_dns over a resolver
// that answers through the io_context. Sealed messages come from the suite (arc_suite.inc).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <map>

#include "mailauth/arc/arc_set.h"
#include "mailauth/arc/verifier.h"
#include "unit/mailauth/arc/arc_suite.inc"

namespace petrel::mailauth::arc {
namespace {

namespace asio = boost::asio;

struct Case {
    std::string message;
    std::map<std::string, std::string> txt;
};

Case suite_case(const std::string& name) {
    static const boost::json::value suite = boost::json::parse(k_arc_suite_json);
    for (const auto& t : suite.at("validation").as_array()) {
        const auto& test = t.as_object();
        if (test.at("name").as_string() != name) continue;
        Case c{std::string(test.at("message").as_string()), {}};
        for (const auto& [k, v] : test.at("txt").as_object()) c.txt[std::string(k)] = std::string(v.as_string());
        return c;
    }
    ADD_FAILURE() << "no suite case " << name;
    return {};
}

dkim::KeyFetcher fetcher(const std::map<std::string, std::string>& txt, int* calls = nullptr) {
    return [txt, calls](const std::string& name) {
        if (calls) ++*calls;
        auto it = txt.find(name);
        if (it == txt.end()) return dkim::KeyLookup{dns::Status::NxDomain, {}};
        return dkim::KeyLookup{dns::Status::Ok, {it->second}};
    };
}

// A header section of ARC fields with given instance texts; signatures are dummies, so only
// the structure can be judged.
std::string arc_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string m;
    for (const auto& [name, value] : fields) m += name + ": " + value + "\r\n";
    return m + "From: a@example.org\r\n\r\nbody\r\n";
}

std::string seal(int i, const char* cv) {
    return "i=" + std::to_string(i) + "; a=rsa-sha256; cv=" + cv + "; d=example.org; s=s; b=AAAA";
}
std::string ams(int i) {
    return "i=" + std::to_string(i) + "; a=rsa-sha256; d=example.org; s=s; h=from; bh=" +
           std::string(43, 'A') + "=; b=AAAA";
}
std::string aar(int i) { return "i=" + std::to_string(i) + "; mx.example.org; spf=pass"; }

// The chain's sets point into the message and its parse: both are kept until the next call.
Chain chain_of(const std::string& message, int max_instances = 50) {
    static std::string text;
    static ParsedMessage parsed;
    text = message;
    std::string error;
    auto msg = parse_message(text, error);
    EXPECT_TRUE(msg) << error;
    parsed = msg ? *msg : ParsedMessage{};
    return collect_chain(parsed, max_instances);
}

TEST(ArcStructure, NoArcFieldsIsNone) {
    std::string m = "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n";
    ChainReport r = verify(m, fetcher({}), VerifyOptions{});
    EXPECT_EQ(r.result, ChainResult::None);
    EXPECT_EQ(r.instances, 0);
    EXPECT_STREQ(to_string(r.result), "none");
}

TEST(ArcStructure, CompleteSetsParse) {
    Chain c = chain_of(arc_fields({{"ARC-Seal", seal(2, "pass")}, {"ARC-Message-Signature", ams(2)},
                                   {"ARC-Authentication-Results", aar(2)}, {"arc-seal", seal(1, "none")},
                                   {"ARC-Message-Signature", ams(1)}, {"ARC-Authentication-Results", aar(1)}}));
    EXPECT_TRUE(c.present);
    EXPECT_EQ(c.error, "");
    ASSERT_EQ(c.sets.size(), 2u);
    EXPECT_EQ(c.seals[1].cv, Cv::Pass);
}

TEST(ArcStructure, GapDuplicateAndCvRulesFail) {
    auto error_of = [](std::vector<std::pair<std::string, std::string>> f) { return chain_of(arc_fields(f)).error; };
    // i=2 without i=1.
    EXPECT_EQ(error_of({{"ARC-Seal", seal(2, "pass")}, {"ARC-Message-Signature", ams(2)},
                        {"ARC-Authentication-Results", aar(2)}}),
              "no ARC-Authentication-Results with i=1");
    // Two seals for i=1.
    EXPECT_EQ(error_of({{"ARC-Seal", seal(1, "none")}, {"ARC-Seal", seal(1, "none")},
                        {"ARC-Message-Signature", ams(1)}, {"ARC-Authentication-Results", aar(1)}}),
              "two ARC-Seal with i=1");
    // i=1 must say cv=none; the newest must not say fail.
    EXPECT_EQ(error_of({{"ARC-Seal", seal(1, "pass")}, {"ARC-Message-Signature", ams(1)},
                        {"ARC-Authentication-Results", aar(1)}}),
              "ARC-Seal i=1 has cv=pass");
    EXPECT_EQ(error_of({{"ARC-Seal", seal(1, "fail")}, {"ARC-Message-Signature", ams(1)},
                        {"ARC-Authentication-Results", aar(1)}}),
              "ARC-Seal i=1 says cv=fail");
    // An AMS alone is a (broken) chain, not "none".
    Chain lone = chain_of(arc_fields({{"ARC-Message-Signature", ams(1)}}));
    EXPECT_TRUE(lone.present);
    EXPECT_EQ(lone.error, "no ARC-Authentication-Results with i=1");
}

TEST(ArcStructure, InstanceRange) {
    EXPECT_EQ(chain_of(arc_fields({{"ARC-Seal", seal(51, "pass")}})).error, "more than 50 ARC sets");
    EXPECT_EQ(chain_of(arc_fields({{"ARC-Seal", seal(3, "pass")}}), 2).error, "more than 2 ARC sets");
    EXPECT_EQ(chain_of(arc_fields({{"ARC-Seal", seal(0, "none")}})).error, "ARC-Seal without a valid i=");
    EXPECT_EQ(chain_of(arc_fields({{"ARC-Seal", "i=100; cv=none"}})).error, "ARC-Seal without a valid i=");
}

TEST(ArcStructure, AarInstancePrefix) {
    EXPECT_EQ(aar_instance("i=1; mx.example.org; spf=pass"), 1);
    EXPECT_EQ(aar_instance(" i = 12 ;mx"), 12);
    EXPECT_EQ(aar_instance("\r\n\ti=3;"), 3);
    EXPECT_FALSE(aar_instance("mx.example.org; i=1;"));  // not first
    EXPECT_FALSE(aar_instance("i=1 mx.example.org"));    // no ";"
    EXPECT_FALSE(aar_instance("i=; mx"));
    EXPECT_FALSE(aar_instance("I=1; mx"));
    EXPECT_FALSE(aar_instance("i=123; mx"));
}

TEST(ArcStructure, SealAndSignatureTagRules) {
    std::string error;
    std::string msg = "ARC-Seal: " + seal(1, "none") + "; h=from\r\n\r\n";
    auto parsed = parse_message(msg, error);
    ASSERT_TRUE(parsed);
    EXPECT_FALSE(parse_seal(parsed->fields[0], error));
    EXPECT_EQ(error, "h= is not allowed in ARC-Seal");

    std::string with_l = "ARC-Message-Signature: " + ams(1) + "; l=4\r\n\r\n";
    parsed = parse_message(with_l, error);
    ASSERT_TRUE(parsed);
    EXPECT_FALSE(parse_message_signature(parsed->fields[0], error));
    EXPECT_EQ(error, "l= is not accepted in ARC-Message-Signature");

    std::string signs_seal = "ARC-Message-Signature: i=1; a=rsa-sha256; d=example.org; s=s; h=from:arc-seal; bh=" +
                             std::string(43, 'A') + "=; b=AAAA\r\n\r\n";
    parsed = parse_message(signs_seal, error);
    ASSERT_TRUE(parsed);
    EXPECT_FALSE(parse_message_signature(parsed->fields[0], error));
    EXPECT_EQ(error, "h= signs ARC-Seal");

    std::string sha1 = "ARC-Seal: i=1; a=rsa-sha1; cv=none; d=example.org; s=s; b=AAAA\r\n\r\n";
    parsed = parse_message(sha1, error);
    ASSERT_TRUE(parsed);
    EXPECT_FALSE(parse_seal(parsed->fields[0], error));
    EXPECT_EQ(error, "rsa-sha1 is not acceptable (RFC 8301)");
}

TEST(ArcVerify, OldestPassNamesTheOldestStillValidAms) {
    Case all_valid = suite_case("cv_pass_i3_1");
    ChainReport r = verify(all_valid.message, fetcher(all_valid.txt), VerifyOptions{});
    ASSERT_EQ(r.result, ChainResult::Pass) << r.detail;
    EXPECT_EQ(r.instances, 3);
    EXPECT_EQ(r.oldest_pass, 0);
    EXPECT_EQ(r.ams_domains, (std::vector<std::string>{"example.org", "example.org", "example.org"}));

    Case broken1 = suite_case("cv_pass_i2_1_ams1_invalid");  // a header changed after hop 1
    r = verify(broken1.message, fetcher(broken1.txt), VerifyOptions{});
    ASSERT_EQ(r.result, ChainResult::Pass) << r.detail;
    EXPECT_EQ(r.oldest_pass, 2);
}

TEST(ArcVerify, KeyNamesCoverEveryKeyTheVerifierAsksFor) {
    Case c = suite_case("ams_as_diff_s_d");
    std::vector<std::string> names = key_names(c.message, {});
    EXPECT_GE(names.size(), 2u);
    std::map<std::string, std::string> only_named;
    for (const auto& n : names) only_named[n] = c.txt.at(n);
    EXPECT_EQ(verify(c.message, fetcher(only_named), VerifyOptions{}).result, ChainResult::Pass);
    EXPECT_TRUE(key_names("From: a@b\r\n\r\n", {}).empty());
}

TEST(ArcVerify, TemporaryKeyFailureIsMarked) {
    Case c = suite_case("cv_pass_i1_1");
    dkim::KeyFetcher servfail = [](const std::string&) { return dkim::KeyLookup{dns::Status::ServFail, {}}; };
    ChainReport r = verify(c.message, servfail, VerifyOptions{});
    EXPECT_EQ(r.result, ChainResult::Fail);
    EXPECT_TRUE(r.temporary);
    EXPECT_NE(r.detail.find("key lookup"), std::string::npos) << r.detail;
    // A missing key is a permanent failure.
    r = verify(c.message, fetcher({}), VerifyOptions{});
    EXPECT_EQ(r.result, ChainResult::Fail);
    EXPECT_FALSE(r.temporary);
}

TEST(ArcVerify, StructureFailsBeforeAnyKeyIsFetched) {
    int calls = 0;
    std::string m = arc_fields({{"ARC-Seal", seal(1, "none")}, {"ARC-Message-Signature", ams(1)}});
    ChainReport r = verify(m, fetcher({}, &calls), VerifyOptions{});
    EXPECT_EQ(r.result, ChainResult::Fail);
    EXPECT_EQ(calls, 0);
}

TEST(ArcVerify, UnreadableHeaderIsNone) {
    ChainReport r = verify(" folded first line\r\nARC-Seal: i=1\r\n\r\n", fetcher({}), VerifyOptions{});
    EXPECT_EQ(r.result, ChainResult::None);
    EXPECT_FALSE(r.detail.empty());
}

class TxtResolver final : public dns::Resolver {
public:
    explicit TxtResolver(std::map<std::string, std::string> txt) : txt_(std::move(txt)) {}
    asio::awaitable<dns::MxAnswer> mx(std::string) override { co_return dns::MxAnswer{dns::Status::NoData, {}, {}, false}; }
    asio::awaitable<dns::AddressAnswer> a(std::string) override { co_return dns::AddressAnswer{dns::Status::NoData, {}, {}, false}; }
    asio::awaitable<dns::AddressAnswer> aaaa(std::string) override { co_return dns::AddressAnswer{dns::Status::NoData, {}, {}, false}; }
    asio::awaitable<dns::TxtAnswer> txt(std::string name) override {
        ++asked;
        auto executor = co_await asio::this_coro::executor;
        co_await asio::post(executor, asio::use_awaitable);  // really suspend
        dns::TxtAnswer ans;
        auto it = txt_.find(name);
        if (it == txt_.end()) {
            ans.status = dns::Status::NxDomain;
        } else {
            ans.records.push_back({it->second, {it->second}});
        }
        co_return ans;
    }
    int asked = 0;

private:
    std::map<std::string, std::string> txt_;
};

TEST(ArcVerify, WithDnsMatchesPureVerifier) {
    for (const char* name : {"cv_pass_i3_1", "ams_as_diff_s_d", "cv_fail_i2_as1_invalid", "public_key_na"}) {
        Case c = suite_case(name);
        ChainReport pure = verify(c.message, fetcher(c.txt), VerifyOptions{});
        asio::io_context io;
        TxtResolver resolver(c.txt);
        auto future = asio::co_spawn(io, verify_with_dns(resolver, c.message, {}), asio::use_future);
        io.run();
        ChainReport driven = future.get();
        EXPECT_EQ(driven.result, pure.result) << name;
        EXPECT_EQ(driven.detail, pure.detail) << name;
        EXPECT_EQ(driven.oldest_pass, pure.oldest_pass) << name;
        EXPECT_EQ(resolver.asked, static_cast<int>(key_names(c.message, {}).size())) << name;
    }
}

}  // namespace
}  // namespace petrel::mailauth::arc
