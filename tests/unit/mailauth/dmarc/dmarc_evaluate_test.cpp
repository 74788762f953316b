// tests/unit/mailauth/dmarc/dmarc_evaluate_test.cpp — organizational domains and alignment
// (RFC 7489 §3.1, §3.2, with Public Suffix List cases), policy discovery order and outcome
// (§6.6.3), sp= for subdomains, pct= sampling (§6.6.4), and evaluate_with_dns over a resolver
// that answers from a table through the io_context and records what it was asked.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "mailauth/dmarc/dmarc.h"

namespace petrel::mailauth::dmarc {
namespace {

namespace asio = boost::asio;

dns::TxtAnswer txt(std::vector<std::string> texts) {
    dns::TxtAnswer a;
    a.status = dns::Status::Ok;
    for (auto& t : texts) a.records.push_back(dns::TxtRecord{t, {t}});
    return a;
}
dns::TxtAnswer status(dns::Status s) {
    dns::TxtAnswer a;
    a.status = s;
    return a;
}

TEST(DmarcAlignment, OrganizationalDomain) {
    EXPECT_EQ(organizational_domain("example.com"), "example.com");
    EXPECT_EQ(organizational_domain("a.b.Example.COM."), "example.com");
    EXPECT_EQ(organizational_domain("foo.co.uk"), "foo.co.uk");
    EXPECT_EQ(organizational_domain("mail.foo.co.uk"), "foo.co.uk");
    EXPECT_EQ(organizational_domain("co.uk"), "co.uk");  // a public suffix is its own
    EXPECT_EQ(organizational_domain("com"), "com");
    EXPECT_EQ(organizational_domain("a.b.example.test"), "example.test");  // "*" default rule
    EXPECT_EQ(organizational_domain("x.xn--80ak6aa92e.xn--p1ai"), "xn--80ak6aa92e.xn--p1ai");
    EXPECT_EQ(organizational_domain(""), "");
}

TEST(DmarcAlignment, Table) {
    struct Case { const char* from; const char* other; Alignment mode; bool want; };
    const Case cases[] = {
        {"example.com", "example.com", Alignment::Strict, true},
        {"example.com", "EXAMPLE.com.", Alignment::Strict, true},
        {"example.com", "mail.example.com", Alignment::Strict, false},
        {"example.com", "mail.example.com", Alignment::Relaxed, true},
        {"news.example.com", "mail.example.com", Alignment::Relaxed, true},
        {"news.example.com", "example.com", Alignment::Relaxed, true},
        {"news.example.com", "mail.example.com", Alignment::Strict, false},
        {"example.com", "example.net", Alignment::Relaxed, false},
        {"example.com", "badexample.com", Alignment::Relaxed, false},
        {"foo.co.uk", "bar.co.uk", Alignment::Relaxed, false},  // the suffix is shared, not the org
        {"foo.co.uk", "mail.foo.co.uk", Alignment::Relaxed, true},
        {"a.blogspot.com", "b.blogspot.com", Alignment::Relaxed, false},  // private PSL section
        {"co.uk", "x.co.uk", Alignment::Relaxed, false},
        {"example.com", "", Alignment::Relaxed, false},
        {"", "", Alignment::Strict, false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(aligned(c.from, c.other, c.mode), c.want) << c.from << " / " << c.other << " " << to_string(c.mode);
    }
}

TEST(DmarcDiscovery, Names) {
    EXPECT_EQ(discovery_names("Example.COM"), (std::vector<std::string>{"example.com"}));
    EXPECT_EQ(discovery_names("a.b.example.com"), (std::vector<std::string>{"a.b.example.com", "example.com"}));
    EXPECT_TRUE(discovery_names("").empty());
}

Inputs inputs_for(std::string from) {
    Inputs in;
    in.from_domain = std::move(from);
    return in;
}

TEST(DmarcEvaluate, NoRecordIsNone) {
    Evaluation ev = evaluate(inputs_for("example.com"), {{"example.com", status(dns::Status::NxDomain)}}, 0);
    EXPECT_EQ(ev.result, Result::None);
    EXPECT_EQ(ev.policy, Policy::None);
    EXPECT_EQ(ev.header_from, "example.com");
    EXPECT_TRUE(ev.policy_domain.empty());
    ev = evaluate(inputs_for("a.example.com"),
                  {{"a.example.com", status(dns::Status::NoData)}, {"example.com", txt({"v=spf1 -all"})}}, 0);
    EXPECT_EQ(ev.result, Result::None);
}

TEST(DmarcEvaluate, PassThroughAlignedSpfOrDkim) {
    std::vector<Lookup> l{{"example.com", txt({"v=spf1 -all", "v=DMARC1; p=reject"})}};
    Inputs in = inputs_for("example.com");
    in.spf_pass = true;
    in.spf_domain = "bounces.example.com";
    Evaluation ev = evaluate(in, l, 0);
    EXPECT_EQ(ev.result, Result::Pass);
    EXPECT_TRUE(ev.spf_aligned);
    EXPECT_FALSE(ev.dkim_aligned);
    EXPECT_EQ(ev.policy, Policy::Reject);
    EXPECT_EQ(ev.disposition, Policy::None);
    EXPECT_EQ(ev.policy_domain, "example.com");

    in = inputs_for("example.com");
    in.dkim = {{"other.example"}, {"Mail.Example.com"}};
    ev = evaluate(in, l, 0);
    EXPECT_EQ(ev.result, Result::Pass);
    EXPECT_TRUE(ev.dkim_aligned);
    EXPECT_EQ(ev.detail, "aligned DKIM pass d=mail.example.com");
}

TEST(DmarcEvaluate, FailWhenNothingAligns) {
    std::vector<Lookup> l{{"example.com", txt({"v=DMARC1; p=reject"})}};
    Inputs in = inputs_for("example.com");
    in.spf_pass = true;
    in.spf_domain = "example.net";          // passes but does not align
    in.dkim = {{"example.org"}};            // passes but does not align
    Evaluation ev = evaluate(in, l, 0);
    EXPECT_EQ(ev.result, Result::Fail);
    EXPECT_EQ(ev.policy, Policy::Reject);
    EXPECT_EQ(ev.disposition, Policy::Reject);
    in.spf_pass = false;
    in.spf_domain = "example.com";          // aligns but did not pass
    EXPECT_EQ(evaluate(in, l, 0).result, Result::Fail);
}

TEST(DmarcEvaluate, StrictAlignmentFromTheRecord) {
    Inputs in = inputs_for("example.com");
    in.spf_pass = true;
    in.spf_domain = "mail.example.com";
    EXPECT_EQ(evaluate(in, {{"example.com", txt({"v=DMARC1; p=reject; aspf=s"})}}, 0).result, Result::Fail);
    EXPECT_EQ(evaluate(in, {{"example.com", txt({"v=DMARC1; p=reject; adkim=s"})}}, 0).result, Result::Pass);
    in.spf_pass = false;
    in.dkim = {{"mail.example.com"}};
    EXPECT_EQ(evaluate(in, {{"example.com", txt({"v=DMARC1; p=reject; adkim=s"})}}, 0).result, Result::Fail);
    EXPECT_EQ(evaluate(in, {{"example.com", txt({"v=DMARC1; p=reject; aspf=s"})}}, 0).result, Result::Pass);
}

TEST(DmarcEvaluate, SubdomainUsesSpFromTheOrganizationalRecord) {
    Inputs in = inputs_for("news.example.com");
    std::vector<Lookup> l{{"news.example.com", status(dns::Status::NxDomain)},
                          {"example.com", txt({"v=DMARC1; p=reject; sp=quarantine"})}};
    Evaluation ev = evaluate(in, l, 0);
    EXPECT_EQ(ev.result, Result::Fail);
    EXPECT_EQ(ev.policy, Policy::Quarantine);
    EXPECT_EQ(ev.disposition, Policy::Quarantine);
    EXPECT_EQ(ev.policy_domain, "example.com");
    // Without sp= the subdomain inherits p=.
    l[1] = {"example.com", txt({"v=DMARC1; p=reject"})};
    EXPECT_EQ(evaluate(in, l, 0).policy, Policy::Reject);
    // A record at the author domain itself uses its p=, even for a subdomain.
    l = {{"news.example.com", txt({"v=DMARC1; p=none; sp=reject"})}};
    ev = evaluate(in, l, 0);
    EXPECT_EQ(ev.policy, Policy::None);
    EXPECT_EQ(ev.policy_domain, "news.example.com");
    // The author domain's own record wins over the organizational one (not even asked).
    EXPECT_EQ(evaluate(in, {{"news.example.com", txt({"v=DMARC1; p=quarantine"})},
                            {"example.com", txt({"v=DMARC1; p=reject"})}}, 0).policy, Policy::Quarantine);
}

TEST(DmarcEvaluate, PctSampling) {
    auto run = [](const char* record, unsigned sample) {
        return evaluate(inputs_for("example.com"), {{"example.com", txt({record})}}, sample);
    };
    EXPECT_EQ(run("v=DMARC1; p=reject; pct=20", 0).disposition, Policy::Reject);
    EXPECT_EQ(run("v=DMARC1; p=reject; pct=20", 19).disposition, Policy::Reject);
    EXPECT_EQ(run("v=DMARC1; p=reject; pct=20", 20).disposition, Policy::Quarantine);
    EXPECT_EQ(run("v=DMARC1; p=reject; pct=20", 99).disposition, Policy::Quarantine);
    EXPECT_EQ(run("v=DMARC1; p=quarantine; pct=20", 50).disposition, Policy::None);
    EXPECT_EQ(run("v=DMARC1; p=quarantine; pct=20", 5).disposition, Policy::Quarantine);
    EXPECT_EQ(run("v=DMARC1; p=reject; pct=0", 0).disposition, Policy::Quarantine);
    EXPECT_EQ(run("v=DMARC1; p=reject", 99).disposition, Policy::Reject);
    EXPECT_EQ(run("v=DMARC1; p=reject", 1000).disposition, Policy::Reject);  // clamped to 99
    Evaluation ev = run("v=DMARC1; p=reject; pct=20", 50);
    EXPECT_EQ(ev.result, Result::Fail);      // sampling changes the disposition, not the result
    EXPECT_EQ(ev.policy, Policy::Reject);
}

TEST(DmarcEvaluate, SeveralRecordsAreNoPolicy) {
    Evaluation ev = evaluate(inputs_for("example.com"),
                             {{"example.com", txt({"v=DMARC1; p=reject", "v=DMARC1; p=none"})}}, 0);
    EXPECT_EQ(ev.result, Result::PermError);
    EXPECT_EQ(ev.disposition, Policy::None);
    // Several at the author domain: discovery stops there (step 5), the org record is not used.
    ev = evaluate(inputs_for("a.example.com"),
                  {{"a.example.com", txt({"v=DMARC1; p=reject", "v=DMARC1; p=none"})},
                   {"example.com", txt({"v=DMARC1; p=reject"})}}, 0);
    EXPECT_EQ(ev.result, Result::PermError);
    EXPECT_EQ(ev.policy_domain, "a.example.com");
}

TEST(DmarcEvaluate, UnusableRecord) {
    Evaluation ev = evaluate(inputs_for("example.com"), {{"example.com", txt({"v=DMARC1; p=block"})}}, 0);
    EXPECT_EQ(ev.result, Result::PermError);
    EXPECT_EQ(ev.disposition, Policy::None);
    ev = evaluate(inputs_for("example.com"),
                  {{"example.com", txt({"v=DMARC1; p=block; rua=mailto:r@example.com"})}}, 0);
    EXPECT_EQ(ev.result, Result::Fail);  // acts as p=none (§6.6.3 step 6.1)
    EXPECT_EQ(ev.policy, Policy::None);
    EXPECT_EQ(ev.disposition, Policy::None);
}

TEST(DmarcEvaluate, TemporaryDnsErrors) {
    for (auto s : {dns::Status::ServFail, dns::Status::Timeout, dns::Status::Refused, dns::Status::Malformed}) {
        EXPECT_EQ(evaluate(inputs_for("example.com"), {{"example.com", status(s)}}, 0).result, Result::TempError);
        EXPECT_EQ(evaluate(inputs_for("a.example.com"),
                           {{"a.example.com", status(dns::Status::NxDomain)}, {"example.com", status(s)}}, 0).result,
                  Result::TempError);
    }
    EXPECT_EQ(evaluate(inputs_for("a.example.com"), {{"a.example.com", status(dns::Status::NxDomain)}}, 0).result,
              Result::TempError);  // the organizational lookup is missing
    EXPECT_EQ(evaluate(inputs_for("example.com"), {}, 0).result, Result::TempError);
}

TEST(DmarcEvaluate, NoAuthorDomain) {
    EXPECT_EQ(evaluate(inputs_for(""), {}, 0).result, Result::PermError);
}

TEST(DmarcEvaluate, ResultWords) {
    EXPECT_STREQ(to_string(Result::None), "none");
    EXPECT_STREQ(to_string(Result::Pass), "pass");
    EXPECT_STREQ(to_string(Result::Fail), "fail");
    EXPECT_STREQ(to_string(Result::TempError), "temperror");
    EXPECT_STREQ(to_string(Result::PermError), "permerror");
}

// Answers TXT questions from a table, after a trip through the io_context; records the order.
class TableResolver final : public dns::Resolver {
public:
    std::map<std::string, dns::TxtAnswer> table;
    std::vector<std::string> asked;

    asio::awaitable<dns::MxAnswer> mx(std::string) override { co_return dns::MxAnswer{dns::Status::Refused, {}, {}, false}; }
    asio::awaitable<dns::AddressAnswer> a(std::string) override { co_return dns::AddressAnswer{dns::Status::Refused, {}, {}, false}; }
    asio::awaitable<dns::AddressAnswer> aaaa(std::string) override { co_return dns::AddressAnswer{dns::Status::Refused, {}, {}, false}; }
    asio::awaitable<dns::TxtAnswer> txt(std::string name) override {
        asked.push_back(name);
        auto executor = co_await asio::this_coro::executor;
        co_await asio::post(executor, asio::use_awaitable);
        auto it = table.find(name);
        co_return it == table.end() ? status(dns::Status::NxDomain) : it->second;
    }
};

Evaluation run(TableResolver& r, Inputs in, unsigned sample = 0) {
    asio::io_context io;
    auto f = asio::co_spawn(io, evaluate_with_dns(r, std::move(in), sample), asio::use_future);
    io.run();
    return f.get();
}

TEST(DmarcEvaluateWithDns, AsksAuthorThenOrganizationalDomain) {
    TableResolver r;
    r.table["_dmarc.example.com"] = txt({"v=DMARC1; p=reject; sp=none"});
    Evaluation ev = run(r, inputs_for("Mail.News.Example.com"));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"_dmarc.mail.news.example.com", "_dmarc.example.com"}));
    EXPECT_EQ(ev.result, Result::Fail);
    EXPECT_EQ(ev.policy, Policy::None);
    EXPECT_EQ(ev.policy_domain, "example.com");
}

TEST(DmarcEvaluateWithDns, StopsAtTheAuthorRecord) {
    TableResolver r;
    r.table["_dmarc.news.example.com"] = txt({"v=DMARC1; p=quarantine"});
    r.table["_dmarc.example.com"] = txt({"v=DMARC1; p=reject"});
    Inputs in = inputs_for("news.example.com");
    in.dkim = {{"example.com"}};
    Evaluation ev = run(r, in);
    EXPECT_EQ(r.asked, (std::vector<std::string>{"_dmarc.news.example.com"}));
    EXPECT_EQ(ev.result, Result::Pass);
    EXPECT_EQ(ev.policy, Policy::Quarantine);
}

TEST(DmarcEvaluateWithDns, OrgDomainAskedOnceAndTempErrorStops) {
    TableResolver r;
    Evaluation ev = run(r, inputs_for("example.com"));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"_dmarc.example.com"}));
    EXPECT_EQ(ev.result, Result::None);

    TableResolver t;
    t.table["_dmarc.a.example.com"] = status(dns::Status::Timeout);
    ev = run(t, inputs_for("a.example.com"));
    EXPECT_EQ(t.asked, (std::vector<std::string>{"_dmarc.a.example.com"}));
    EXPECT_EQ(ev.result, Result::TempError);
}

}  // namespace
}  // namespace petrel::mailauth::dmarc
