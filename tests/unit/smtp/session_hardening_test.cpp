// Hardening of smtp::ServerSession: command-line limits and line endings, STARTTLS command
// injection (CVE-2011-0411), HTTP cross-protocol requests, the per-session error limit,
// recipient limits. Each test fails if its protection is removed.
#include <gtest/gtest.h>

#include "session_harness.h"

namespace petrel::smtp::testing {
namespace {

TEST(SessionHardening, CommandLineAtLimitAccepted) {
    Harness h;
    h.start();
    // 512 octets including CRLF (RFC 5321 §4.5.3.1.4).
    std::string line = "NOOP " + std::string(512 - 5 - 2, 'x') + "\r\n";
    ASSERT_EQ(line.size(), 512u);
    EXPECT_EQ(codes(h.feed(line)), std::vector<std::string>{"250 2.0.0"});
}

TEST(SessionHardening, CommandLineOverLimitRefusedAtFirstOctet) {
    Harness h;
    h.start();
    std::string line = "NOOP " + std::string(512 - 5, 'x');  // 512 octets, no LF yet
    EXPECT_EQ(codes(h.feed(line)), std::vector<std::string>{"500 5.5.6"});  // at once, not later
    // The rest of the line is discarded, however long, and what follows it is obeyed.
    EXPECT_EQ(h.feed(std::string(100000, 'y')), "");
    EXPECT_EQ(codes(h.feed("QUIT\r\nNOOP\r\n")), std::vector<std::string>{"250 2.0.0"});
    EXPECT_TRUE(h.has_event("protocol", "too long"));
}

TEST(SessionHardening, LongLineSmuggledCommandNotExecuted) {
    Harness h;
    h.start();
    // The tail of an overlong line must not be read as a command.
    EXPECT_EQ(codes(h.feed("NOOP " + std::string(600, 'x') + "QUIT\r\nNOOP\r\n")),
              (std::vector<std::string>{"500 5.5.6", "250 2.0.0"}));
    EXPECT_FALSE(h.session->closed());
}

TEST(SessionHardening, AuthLineMayBeLonger) {
    Harness h;
    h.cfg.tls_active = true;
    h.cfg.auth_enabled = true;
    h.start();
    h.feed("EHLO c\r\n");
    // RFC 4954 §4: AUTH with an initial response may exceed 512 octets.
    const std::string ir(1000, 'A');
    EXPECT_EQ(codes(h.feed("AUTH PLAIN " + ir + "\r\n")), std::vector<std::string>{"501 5.5.2"});  // bad PLAIN
    EXPECT_EQ(codes(h.feed("AUTH PLAIN " + std::string(13000, 'A') + "\r\n")), std::vector<std::string>{"500 5.5.6"});
    EXPECT_EQ(codes(h.feed("AUTH PLAIN\r\n" + std::string(13000, 'A') + "\r\nNOOP\r\n")),
              (std::vector<std::string>{"334", "500 5.5.6", "250 2.0.0"}));
}

TEST(SessionHardening, BareLfEndsNoCommand) {
    Harness h;
    h.start();
    EXPECT_EQ(codes(h.feed("EHLO c\nNOOP\r\n")), (std::vector<std::string>{"500 5.5.2", "250 2.0.0"}));
    EXPECT_FALSE(h.session->facts().esmtp);  // EHLO was not obeyed
    EXPECT_EQ(codes(h.feed("\n")), std::vector<std::string>{"500 5.5.2"});
}

TEST(SessionHardening, BareCrInCommandRefused) {
    Harness h;
    h.start();
    EXPECT_EQ(codes(h.feed("NOOP\rQUIT\r\n")), std::vector<std::string>{"500 5.5.2"});
    EXPECT_FALSE(h.session->closed());
}

TEST(SessionHardening, NulInCommandRefused) {
    Harness h;
    h.start();
    EXPECT_EQ(codes(h.feed(std::string("EHLO a\0b\r\n", 10))), std::vector<std::string>{"500 5.5.2"});
}

TEST(SessionHardening, StartTlsInjectionSameFeed) {
    Harness h;
    h.cfg.tls_available = true;
    h.start();
    h.feed("EHLO c\r\n");
    // CVE-2011-0411: a command pipelined behind STARTTLS must never run after the handshake.
    const std::string w = h.feed("STARTTLS\r\nMAIL FROM:<evil@b.test>\r\n");
    EXPECT_EQ(codes(w), std::vector<std::string>{"554 5.5.1"});
    EXPECT_TRUE(h.session->closed());
    EXPECT_EQ(h.transcript.find("[STARTTLS]"), std::string::npos);
    EXPECT_TRUE(h.closed_seen);
    EXPECT_TRUE(h.has_event("protocol", "pipelining after STARTTLS"));
}

TEST(SessionHardening, StartTlsInjectionBeforeHandshake) {
    Harness h;
    h.cfg.tls_available = true;
    h.resolve = false;
    h.start();
    h.feed("EHLO c\r\n");
    EXPECT_EQ(codes(h.feed("STARTTLS\r\n")), std::vector<std::string>{"220 2.0.0"});
    EXPECT_EQ(h.last_action, Action::StartTls);
    EXPECT_EQ(h.feed("MAIL FROM:<evil@b.test>\r\n"), "");  // dropped
    const std::string w = h.handle(h.session->tls_established(TlsInfo{"TLSv1.3", "X"}));
    EXPECT_EQ(codes(w), std::vector<std::string>{"421 4.7.0"});
    EXPECT_TRUE(h.session->closed());
}

TEST(SessionHardening, StartTlsCleanHandshakeForgetsState) {
    Harness h;
    h.cfg.tls_available = true;
    h.cfg.auth_enabled = true;
    h.cfg.auth_requires_tls = false;
    h.start();
    h.feed("EHLO c\r\nAUTH PLAIN AHUAcA==\r\n");
    EXPECT_EQ(h.session->facts().auth_user, "u");
    h.feed("STARTTLS\r\n");
    EXPECT_TRUE(h.session->facts().tls);
    EXPECT_TRUE(h.session->facts().helo.empty());
    EXPECT_TRUE(h.session->facts().auth_user.empty());  // RFC 3207 §4.2
    EXPECT_EQ(codes(h.feed("STARTTLS\r\n")), std::vector<std::string>{"503 5.5.1"});
}

struct HttpCase {
    const char* name;
    const char* line;
};

class HttpTable : public ::testing::TestWithParam<HttpCase> {};

TEST_P(HttpTable, ClosesConnection) {
    Harness h;
    h.start();
    const std::string w = h.feed(std::string(GetParam().line) + "\r\nNOOP\r\n");
    EXPECT_EQ(codes(w), std::vector<std::string>{"554 5.7.0"});
    EXPECT_TRUE(h.session->closed());
    EXPECT_TRUE(h.closed_seen);
}

INSTANTIATE_TEST_SUITE_P(Session, HttpTable,
                         ::testing::Values(HttpCase{"get", "GET / HTTP/1.1"}, HttpCase{"post", "POST /x HTTP/1.0"},
                                           HttpCase{"head", "HEAD / HTTP/1.1"}, HttpCase{"put", "PUT /a HTTP/1.1"},
                                           HttpCase{"connect", "CONNECT mx.example.test:25 HTTP/1.1"},
                                           HttpCase{"options", "OPTIONS * HTTP/1.1"},
                                           HttpCase{"delete", "DELETE /a HTTP/1.1"},
                                           HttpCase{"host", "Host: mx.example.test"},
                                           HttpCase{"user_agent", "User-Agent: curl/8"},
                                           HttpCase{"lowercase_get", "get /"}),
                         [](const ::testing::TestParamInfo<HttpCase>& i) { return std::string(i.param.name); });

TEST(SessionHardening, HttpAfterEhloAlsoCloses) {
    Harness h;
    h.start();
    EXPECT_EQ(codes(h.feed("EHLO c\r\nPOST / HTTP/1.1\r\n")), (std::vector<std::string>{"250", "554 5.7.0"}));
    EXPECT_TRUE(h.session->closed());
}

TEST(SessionHardening, ErrorLimit) {
    Harness h;
    h.cfg.limits.max_errors = 3;
    h.start();
    EXPECT_EQ(codes(h.feed("FOO\r\nBAR\r\nNOOP\r\nBAZ\r\nNOOP\r\n")),
              (std::vector<std::string>{"500 5.5.2", "500 5.5.2", "250 2.0.0", "500 5.5.2", "421 4.7.0"}));
    EXPECT_TRUE(h.session->closed());
    EXPECT_TRUE(h.closed_seen);
}

TEST(SessionHardening, RecipientLimit) {
    Harness h;
    h.cfg.limits.max_recipients = 3;
    h.cfg.limits.max_errors = 2;  // 452 4.5.3 does not count as an error
    h.start();
    std::string s = "EHLO c\r\nMAIL FROM:<a@b.test>\r\n";
    for (int i = 0; i < 5; ++i) s += "RCPT TO:<r" + std::to_string(i) + "@d.test>\r\n";
    s += "DATA\r\nx\r\n.\r\n";
    EXPECT_EQ(codes(h.feed(s)), (std::vector<std::string>{"250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5",
                                                          "452 4.5.3", "452 4.5.3", "354", "250 2.0.0"}));
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0].envelope.recipients.size(), 3u);
}

TEST(SessionHardening, ClosedSessionIgnoresInput) {
    Harness h;
    h.start();
    h.feed("QUIT\r\n");
    Output o = h.session->feed("NOOP\r\n");
    EXPECT_EQ(o.wire, "");
    EXPECT_EQ(o.action, Action::Close);
}

TEST(SessionHardening, ResumeWithoutPendingIsHarmless) {
    Harness h;
    h.start();
    Output o = h.session->commit_result(CommitResult{true, "X", std::nullopt});
    EXPECT_EQ(o.wire, "");
    o = h.session->auth_result(AuthVerdict::Ok);
    EXPECT_EQ(o.wire, "");
    EXPECT_TRUE(h.session->facts().auth_user.empty());
    o = h.session->tls_established(TlsInfo{"TLSv1.3", "X"});
    EXPECT_FALSE(h.session->facts().tls);
}

TEST(SessionHardening, IdleSessionIsSmall) {
    // Buffers are released once a burst is processed (idle-memory target, issue 2).
    Harness h;
    h.start();
    h.feed("EHLO c\r\n" + std::string(400, ' '));  // partial line kept
    h.feed("\r\n");
    std::string body;
    for (int i = 0; i < 1000; ++i) body += std::string(98, 'x') + "\r\n";
    h.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n" + body + ".\r\n");
    EXPECT_LE(sizeof(ServerSession), 16u);
    EXPECT_EQ(h.messages.size(), 1u);
}

}  // namespace
}  // namespace petrel::smtp::testing
