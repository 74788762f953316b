// In-process tests of server/SmtpServer over real loopback sockets: greeting, EHLO, a whole
// transaction, STARTTLS, implicit TLS, AUTH (ok, failed, throttled), connection limits, the
// read deadline, STARTTLS injection, spool failures and a graceful stop.
#include <gtest/gtest.h>

#include "server_harness.h"

namespace petrel::server {
namespace {

using namespace petrel::server::testing;
using config::ListenerKind;

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }
bool contains(const std::string& s, std::string_view p) { return s.find(p) != std::string::npos; }

TEST(SmtpServer, BoundAddressesReportRealPorts) {
    ServerHarness h;
    h.start();
    auto addrs = h.server().bound_addresses();
    ASSERT_EQ(addrs.size(), 3u);
    EXPECT_TRUE(starts_with(addrs[0], "mx 127.0.0.1:"));
    EXPECT_TRUE(starts_with(addrs[1], "submission 127.0.0.1:"));
    EXPECT_TRUE(starts_with(addrs[2], "submissions 127.0.0.1:"));
    EXPECT_NE(h.port(ListenerKind::Mx), 0);
}

TEST(SmtpServer, GreetingAndEhloOnMx) {
    ServerHarness h;
    h.start();
    Client c(h.port(ListenerKind::Mx));
    ASSERT_TRUE(c.connected());
    std::string greeting = c.read_reply();
    EXPECT_TRUE(starts_with(greeting, "220 ")) << greeting;
    EXPECT_TRUE(contains(greeting, "mx.example.test")) << greeting;
    std::string ehlo = c.cmd("EHLO client.test");
    EXPECT_TRUE(starts_with(ehlo, "250-")) << ehlo;
    EXPECT_TRUE(contains(ehlo, "STARTTLS")) << ehlo;
    EXPECT_TRUE(contains(ehlo, "PIPELINING")) << ehlo;
    EXPECT_FALSE(contains(ehlo, "AUTH")) << ehlo;  // no AUTH on mx
    EXPECT_TRUE(starts_with(c.cmd("QUIT"), "221")) << "QUIT";
    EXPECT_TRUE(c.wait_closed());
}

TEST(SmtpServer, WholeTransactionIsQueuedWithReceivedHeader) {
    ServerHarness h;
    h.start();
    Client c(h.port(ListenerKind::Mx));
    ASSERT_TRUE(starts_with(c.read_reply(), "220"));
    ASSERT_TRUE(starts_with(c.cmd("EHLO client.test"), "250"));
    EXPECT_TRUE(starts_with(c.cmd("MAIL FROM:<sender@remote.test>"), "250"));
    EXPECT_TRUE(starts_with(c.cmd("RCPT TO:<user@example.test>"), "250"));
    EXPECT_TRUE(starts_with(c.cmd("RCPT TO:<user@elsewhere.test>"), "550"));  // no relay
    EXPECT_TRUE(starts_with(c.cmd("DATA"), "354"));
    std::string queued = c.cmd("Subject: hi\r\n\r\nbody line\r\n..dot\r\n.");
    ASSERT_TRUE(starts_with(queued, "250 2.0.0")) << queued;
    auto stored = h.spool.stored();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_TRUE(contains(queued, stored[0].id)) << queued;
    EXPECT_TRUE(starts_with(stored[0].message, "Received: ")) << stored[0].message;
    EXPECT_TRUE(contains(stored[0].message, "Subject: hi\r\n\r\nbody line\r\n.dot\r\n"));
    EXPECT_EQ(stored[0].envelope.recipients.size(), 1u);
    EXPECT_EQ(stored[0].envelope.facts.listener, "mx");
    EXPECT_EQ(stored[0].envelope.facts.client_ip, "127.0.0.1");
    EXPECT_FALSE(stored[0].envelope.facts.session_id.empty());
    EXPECT_TRUE(starts_with(c.cmd("QUIT"), "221"));
}

TEST(SmtpServer, SpoolFailuresBecomeTransientReplies) {
    ServerHarness h;
    h.start();
    Client c(h.port(ListenerKind::Mx));
    ASSERT_TRUE(starts_with(c.read_reply(), "220"));
    ASSERT_TRUE(starts_with(c.cmd("EHLO client.test"), "250"));
    for (auto [status, expect] : {std::pair{queue::CommitStatus::NoSpace, "452 4.3.1"},
                                  std::pair{queue::CommitStatus::IoError, "451 4.3.0"}}) {
        h.spool.next_status = status;
        ASSERT_TRUE(starts_with(c.cmd("MAIL FROM:<>"), "250"));
        ASSERT_TRUE(starts_with(c.cmd("RCPT TO:<user@example.test>"), "250"));
        ASSERT_TRUE(starts_with(c.cmd("DATA"), "354"));
        std::string r = c.cmd("x\r\n.");
        EXPECT_TRUE(starts_with(r, expect)) << r;
    }
    EXPECT_TRUE(h.spool.stored().empty());
}

TEST(SmtpServer, StartTlsThenAuthAndSubmit) {
    ServerHarness h;
    h.start();
    Client c(h.port(ListenerKind::Submission));
    ASSERT_TRUE(starts_with(c.read_reply(), "220"));
    std::string ehlo = c.cmd("EHLO client.test");
    EXPECT_TRUE(contains(ehlo, "STARTTLS")) << ehlo;
    EXPECT_FALSE(contains(ehlo, "AUTH")) << ehlo;  // AUTH only under TLS
    EXPECT_TRUE(starts_with(c.cmd("MAIL FROM:<a@example.test>"), "530")) << "TLS first";
    ASSERT_TRUE(starts_with(c.cmd("STARTTLS"), "220"));
    ASSERT_TRUE(c.handshake());
    EXPECT_TRUE(starts_with(c.tls_version(), "TLSv1.")) << c.tls_version();
    ehlo = c.cmd("EHLO client.test");
    EXPECT_FALSE(contains(ehlo, "STARTTLS")) << ehlo;
    EXPECT_TRUE(contains(ehlo, "AUTH")) << ehlo;
    EXPECT_TRUE(starts_with(c.cmd("MAIL FROM:<a@example.test>"), "530")) << "AUTH first";
    std::string auth = c.cmd(auth_plain("alice", "secret"));
    ASSERT_TRUE(starts_with(auth, "235")) << auth;
    EXPECT_TRUE(starts_with(c.cmd("MAIL FROM:<alice@example.test>"), "250"));
    EXPECT_TRUE(starts_with(c.cmd("RCPT TO:<someone@elsewhere.test>"), "250"));  // authenticated
    EXPECT_TRUE(starts_with(c.cmd("DATA"), "354"));
    EXPECT_TRUE(starts_with(c.cmd("Subject: t\r\n\r\nhello\r\n."), "250 2.0.0"));
    auto stored = h.spool.stored();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_TRUE(stored[0].envelope.facts.tls);
    EXPECT_EQ(stored[0].envelope.facts.auth_user, "alice");
    EXPECT_TRUE(contains(stored[0].message, "TLS")) << stored[0].message;  // RFC 8314 §4.3
    EXPECT_TRUE(starts_with(c.cmd("QUIT"), "221"));
    EXPECT_TRUE(c.wait_closed());
}

TEST(SmtpServer, ImplicitTlsOnSubmissions) {
    ServerHarness h;
    h.start();
    Client c(h.port(ListenerKind::Submissions), /*implicit_tls=*/true);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.tls());
    EXPECT_TRUE(starts_with(c.read_reply(), "220"));
    std::string ehlo = c.cmd("EHLO client.test");
    EXPECT_FALSE(contains(ehlo, "STARTTLS")) << ehlo;
    EXPECT_TRUE(contains(ehlo, "AUTH")) << ehlo;
    EXPECT_TRUE(starts_with(c.cmd(auth_plain("alice", "secret")), "235"));
}

TEST(SmtpServer, PlaintextOnSubmissionsGetsNoGreeting) {
    ServerHarness h;
    h.cfg.limits.command_timeout = std::chrono::milliseconds(300);
    h.start();
    Client c(h.port(ListenerKind::Submissions));
    ASSERT_TRUE(c.connected());
    c.send("EHLO client.test\r\n");
    std::string trailing;
    EXPECT_TRUE(c.wait_closed(5000ms, &trailing));
    EXPECT_FALSE(contains(trailing, "220")) << trailing;
}

TEST(SmtpServer, AuthFailuresAreRefusedThenThrottled) {
    ServerHarness h;
    h.cfg.auth.max_failures = 2;
    h.start();
    Client c(h.port(ListenerKind::Submissions), true);
    ASSERT_TRUE(starts_with(c.read_reply(), "220"));
    ASSERT_TRUE(starts_with(c.cmd("EHLO client.test"), "250"));
    EXPECT_TRUE(starts_with(c.cmd(auth_plain("alice", "wrong")), "535 5.7.8"));
    EXPECT_TRUE(starts_with(c.cmd(auth_plain("alice", "wrong")), "535 5.7.8"));
    int calls = h.credentials.calls.load();
    // Locked out now: refused without consulting the store, even with the right password.
    std::string r = c.cmd(auth_plain("alice", "secret"));
    EXPECT_TRUE(starts_with(r, "4")) << r;
    EXPECT_EQ(h.credentials.calls.load(), calls);
    // A store outage is a temporary failure (from another, unthrottled listener test below).
}

TEST(SmtpServer, StoreOutageIsTemporary) {
    ServerHarness h;
    h.start();
    Client c(h.port(ListenerKind::Submissions), true);
    ASSERT_TRUE(starts_with(c.read_reply(), "220"));
    ASSERT_TRUE(starts_with(c.cmd("EHLO client.test"), "250"));
    EXPECT_TRUE(starts_with(c.cmd(auth_plain("down", "x")), "454 4.7.0"));
}

TEST(SmtpServer, PerIpConnectionLimit) {
    ServerHarness h;
    h.cfg.max_connections_per_ip = 2;
    h.start();
    auto port = h.port(ListenerKind::Mx);
    Client a(port), b(port);
    ASSERT_TRUE(starts_with(a.read_reply(), "220"));
    ASSERT_TRUE(starts_with(b.read_reply(), "220"));
    Client c(port);
    std::string refused = c.read_reply();
    EXPECT_TRUE(starts_with(refused, "421 4.7.0 Too many connections")) << refused;
    EXPECT_TRUE(c.wait_closed());
    a.close();
    ASSERT_TRUE(h.wait_connections(1));
    Client d(port);
    EXPECT_TRUE(starts_with(d.read_reply(), "220"));
}

TEST(SmtpServer, GlobalConnectionLimit) {
    ServerHarness h;
    h.cfg.max_connections = 1;
    h.start();
    Client a(h.port(ListenerKind::Mx));
    ASSERT_TRUE(starts_with(a.read_reply(), "220"));
    Client b(h.port(ListenerKind::Submission));
    EXPECT_TRUE(starts_with(b.read_reply(), "421 4.7.0")) ;
}

TEST(SmtpServer, IdleClientTimesOut) {
    ServerHarness h;
    h.cfg.limits.command_timeout = std::chrono::milliseconds(200);
    h.start();
    Client c(h.port(ListenerKind::Mx));
    ASSERT_TRUE(starts_with(c.read_reply(), "220"));
    auto t0 = std::chrono::steady_clock::now();
    std::string r = c.read_reply();
    EXPECT_TRUE(starts_with(r, "421 4.4.2")) << r;
    EXPECT_TRUE(c.wait_closed());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_TRUE(h.wait_connections(0));
}

// RFC 3207 §4.2 / CVE-2011-0411: a command pipelined behind STARTTLS must never run.
TEST(SmtpServer, CommandsPipelinedAfterStartTlsAreNotExecuted) {
    ServerHarness h;
    h.start();
    Client c(h.port(ListenerKind::Mx));
    ASSERT_TRUE(starts_with(c.read_reply(), "220"));
    ASSERT_TRUE(starts_with(c.cmd("EHLO client.test"), "250"));
    c.send("STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n");
    std::string r = c.read_reply();
    std::string after;
    if (starts_with(r, "220") && c.handshake()) {
        // Even if the server went on with TLS, the injected MAIL must not have been run:
        // either the connection is closed, or a MAIL now is the first one (no 503).
        std::string next = c.read_reply(1000ms);
        EXPECT_TRUE(next.empty()) << next;
    } else {
        EXPECT_TRUE(c.wait_closed(5000ms, &after));
    }
    EXPECT_FALSE(contains(r + after, "250")) << r << after;
    EXPECT_TRUE(h.wait_connections(0));
}

TEST(SmtpServer, StopSends421ToOpenSessions) {
    ServerHarness h;
    h.start();
    Client plain(h.port(ListenerKind::Mx));
    Client tls(h.port(ListenerKind::Submissions), true);
    ASSERT_TRUE(starts_with(plain.read_reply(), "220"));
    ASSERT_TRUE(starts_with(tls.read_reply(), "220"));
    ASSERT_TRUE(h.wait_connections(2));
    h.server().stop();
    EXPECT_TRUE(starts_with(plain.read_reply(), "421 4.3.2"));
    EXPECT_TRUE(starts_with(tls.read_reply(), "421 4.3.2"));
    EXPECT_TRUE(plain.wait_closed());
    EXPECT_TRUE(h.stop());  // io.run() returned: nothing left running
    Client late(h.port(ListenerKind::Mx));
    EXPECT_FALSE(late.connected());
}

}  // namespace
}  // namespace petrel::server
