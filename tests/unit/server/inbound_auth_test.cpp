// In-process tests of the mx listener's authentication step (server/inbound_auth.h) over real
// loopback sockets, with an in-memory TXT resolver: the Authentication-Results field on mx mail
// (and none on submissions), RFC 8601 §5 removal of a forged field, DMARC p=reject → 550 5.7.1
// with nothing committed, and the [authentication] switches.
#include <gtest/gtest.h>

#include <string>

#include "unit/mailauth/txt_resolver.h"
#include "unit/server/server_harness.h"

namespace petrel::server {
namespace {

using config::ListenerKind;
using testing::Client;
using testing::ServerHarness;

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }
bool contains(const std::string& s, std::string_view p) { return s.find(p) != std::string::npos; }

struct Zone : mailauth::testing::TxtResolver {
    Zone() {
        // Client 127.0.0.1: SPF passes for good.test, fails for strict.test (p=reject).
        txt_records["good.test"] = "v=spf1 ip4:127.0.0.1 -all";
        txt_records["_dmarc.good.test"] = "v=DMARC1; p=reject";
        txt_records["strict.test"] = "v=spf1 ip4:192.0.2.1 -all";
        txt_records["_dmarc.strict.test"] = "v=DMARC1; p=reject";
        txt_records["quar.test"] = "v=spf1 ip4:192.0.2.1 -all";
        txt_records["_dmarc.quar.test"] = "v=DMARC1; p=quarantine";
    }
};

// A server whose mx checks ask `zone`; adjust h.cfg before start().
class InboundAuth : public ::testing::Test {
protected:
    void start() {
        h.resolver = &zone;
        h.start();
    }
    Zone zone;
    ServerHarness h;
};

// One message on mx from `domain`; returns the reply to the final dot.
std::string send_mx(ServerHarness& h, const std::string& domain, const std::string& extra = "") {
    Client c(h.port(ListenerKind::Mx));
    EXPECT_TRUE(starts_with(c.read_reply(), "220"));
    EXPECT_TRUE(starts_with(c.cmd("EHLO client.test"), "250"));
    EXPECT_TRUE(starts_with(c.cmd("MAIL FROM:<a@" + domain + ">"), "250"));
    EXPECT_TRUE(starts_with(c.cmd("RCPT TO:<user@example.test>"), "250"));
    EXPECT_TRUE(starts_with(c.cmd("DATA"), "354"));
    std::string reply = c.cmd(extra + "From: a@" + domain + "\r\nSubject: hi\r\n\r\nbody\r\n.");
    c.cmd("QUIT");
    return reply;
}

TEST_F(InboundAuth, MxMailGetsAuthenticationResultsBelowReceived) {
    start();
    std::string reply = send_mx(h, "good.test");
    ASSERT_TRUE(starts_with(reply, "250 2.0.0")) << reply;
    auto stored = h.spool.stored();
    ASSERT_EQ(stored.size(), 1u);
    const std::string& m = stored[0].message;
    EXPECT_TRUE(starts_with(m, "Received: ")) << m;
    size_t ar = m.find("\r\nAuthentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=a@good.test;");
    EXPECT_NE(ar, std::string::npos) << m;
    EXPECT_TRUE(contains(m, "\tdmarc=pass (p=reject dis=none) header.from=good.test;")) << m;
    EXPECT_LT(ar, m.find("\r\nFrom: a@good.test")) << m;
}

TEST_F(InboundAuth, ForgedFieldWithOurIdIsRemoved) {
    start();
    std::string reply = send_mx(h, "good.test",
                                "Authentication-Results: mx.example.test; dkim=pass header.d=bank.test\r\n"
                                "Authentication-Results: other.test; spf=pass\r\n");
    ASSERT_TRUE(starts_with(reply, "250")) << reply;
    const std::string m = h.spool.stored().at(0).message;
    EXPECT_FALSE(contains(m, "bank.test")) << m;
    EXPECT_TRUE(contains(m, "Authentication-Results: other.test; spf=pass\r\n")) << m;
}

TEST_F(InboundAuth, DmarcRejectIs550AndNothingIsCommitted) {
    start();
    std::string reply = send_mx(h, "strict.test");
    EXPECT_TRUE(starts_with(reply, "550 5.7.1")) << reply;
    EXPECT_TRUE(h.spool.stored().empty());
    // The session goes on: the next transaction is accepted.
    EXPECT_TRUE(starts_with(send_mx(h, "good.test"), "250"));
}

TEST_F(InboundAuth, DmarcActionsFollowTheConfig) {
    h.cfg.authentication.dmarc_reject = config::DmarcAction::Tag;
    h.cfg.authentication.dmarc_quarantine_tag = true;
    start();
    EXPECT_TRUE(starts_with(send_mx(h, "strict.test"), "250"));
    EXPECT_TRUE(starts_with(send_mx(h, "quar.test"), "250"));
    auto stored = h.spool.stored();
    ASSERT_EQ(stored.size(), 2u);
    for (const auto& s : stored) EXPECT_TRUE(contains(s.message, "\r\nX-Petrel-Quarantine: dmarc\r\n")) << s.message;
}

TEST_F(InboundAuth, DisabledMeansNoCheckAndNoHeader) {
    h.cfg.authentication.enabled = false;
    start();
    EXPECT_TRUE(starts_with(send_mx(h, "strict.test"), "250"));  // not checked: not refused
    EXPECT_FALSE(contains(h.spool.stored().at(0).message, "Authentication-Results"));
    EXPECT_EQ(zone.asked, 0);
}

}  // namespace
}  // namespace petrel::server
