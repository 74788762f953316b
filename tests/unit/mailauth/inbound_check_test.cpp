// Unit tests for mailauth/inbound_check.h: check_inbound over a small in-memory resolver (every
// answer goes through the io_context, so each lookup really suspends), and describe() on
// verdicts with hostile values.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "mailauth/inbound_check.h"
#include "unit/mailauth/txt_resolver.h"

namespace petrel::mailauth {
namespace {

namespace asio = boost::asio;
using testing::TxtResolver;

InboundVerdict run(TxtResolver& resolver, InboundFacts facts, std::string message) {
    asio::io_context io;
    auto f = asio::co_spawn(io, check_inbound(resolver, std::move(facts), std::move(message),
                                              InboundOptions{"mx.example.test", 0}),
                            asio::use_future);
    io.run();
    return f.get();
}

const std::string kMessage =
    "From: Alice <alice@good.example>\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nHello.\r\n";

InboundFacts facts(std::string mail_from) {
    return InboundFacts{"192.0.2.1", "client.example", std::move(mail_from), "mx.example.test",
                        1790000000};
}

TEST(InboundCheck, SpfPassUnsignedMessage) {
    TxtResolver r;
    r.txt_records["good.example"] = "v=spf1 ip4:192.0.2.0/24 -all";
    InboundVerdict v = run(r, facts("alice@good.example"), kMessage);
    EXPECT_EQ(v.spf.result, spf::Result::Pass);
    EXPECT_EQ(v.spf_identity, "alice@good.example");
    EXPECT_TRUE(v.dkim.results.empty());
    EXPECT_EQ(v.header.rfind("Authentication-Results: mx.example.test;\r\n"
                             "\tspf=pass smtp.mailfrom=alice@good.example;\r\n"
                             "\tdkim=none;\r\n",
                             0),
              0u)
        << v.header;
    EXPECT_NE(v.summary().find("spf=pass dkim=none"), std::string::npos) << v.summary();
}

TEST(InboundCheck, SpfFailFromAnotherAddress) {
    TxtResolver r;
    r.txt_records["good.example"] = "v=spf1 ip4:198.51.100.1 -all";
    InboundVerdict v = run(r, facts("alice@good.example"), kMessage);
    EXPECT_EQ(v.spf.result, spf::Result::Fail);
    EXPECT_NE(v.header.find("\tspf=fail "), std::string::npos) << v.header;
}

TEST(InboundCheck, NullSenderChecksPostmasterAtHelo) {
    TxtResolver r;
    r.txt_records["client.example"] = "v=spf1 ip4:192.0.2.1 -all";
    InboundVerdict v = run(r, facts(""), kMessage);
    EXPECT_EQ(v.spf.result, spf::Result::Pass);
    EXPECT_NE(v.header.find("spf=pass smtp.mailfrom=postmaster@client.example smtp.helo=client.example"),
              std::string::npos)
        << v.header;
}

TEST(InboundCheck, DnsDownIsTemperrorNotAFailure) {
    TxtResolver r;
    r.down = true;
    InboundVerdict v = run(r, facts("alice@good.example"), kMessage);
    EXPECT_EQ(v.spf.result, spf::Result::TempError);
    EXPECT_EQ(v.disposition, Disposition::None);
}

TEST(InboundCheck, BadDkimSignatureIsReported) {
    TxtResolver r;
    std::string signed_message =
        "DKIM-Signature: v=1; a=rsa-sha256; d=good.example; s=s1; c=relaxed/relaxed;\r\n"
        "\th=from:to:subject; bh=AAAA; b=QUJDREVGR0hJSktMTU5PUA==\r\n" + kMessage;
    InboundVerdict v = run(r, facts("alice@good.example"), signed_message);
    ASSERT_EQ(v.dkim.results.size(), 1u);
    EXPECT_NE(v.dkim.results[0].result, dkim::Result::Pass);
    std::string unfolded = v.header;
    for (size_t at; (at = unfolded.find("\r\n\t")) != std::string::npos;) unfolded.replace(at, 3, " ");
    EXPECT_NE(unfolded.find("header.d=good.example header.s=s1 header.b=QUJDREVG"), std::string::npos)
        << v.header;
}

TEST(InboundCheck, DescribeKeepsHostileValuesInside) {
    InboundFacts f = facts("");
    f.helo = "evil\r\nX-Injected: 1";
    InboundVerdict v;
    v.spf.result = spf::Result::None;
    v.spf_identity = "postmaster@" + f.helo;
    dkim::SignatureResult s;
    s.result = dkim::Result::Fail;
    s.detail = "bad\r\nX-Injected: 2";
    s.domain = "d.example\r\nX-Injected: 3";
    s.selector = "s;dkim=pass";
    s.b = "\r\n\r\n\r\n\r\nabcdefgh";
    v.dkim.results.push_back(s);
    std::string header = build_authentication_results("mx.example.test", describe(f, v));
    EXPECT_EQ(header.find("\nX-Injected"), std::string::npos) << header;
    EXPECT_EQ(header.find("\r\n\r\n"), std::string::npos) << header;
    EXPECT_NE(header.find("header.s=\"s;dkim=pass\""), std::string::npos) << header;
}

}  // namespace
}  // namespace petrel::mailauth
