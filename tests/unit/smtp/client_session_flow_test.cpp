// smtp::ClientSession beyond single transcripts: the STARTTLS injection defence (client side of
// CVE-2011-0411), connection reuse with RSET, the wire encoding of bodies, the limits a hostile
// server meets, lost connections, timeouts, unreadable messages and multi-line replies.
#include <gtest/gtest.h>

#include "client_harness.h"
#include "smtp/reply_parser.h"

namespace petrel::smtp::testing {
namespace {

const std::string kGreet = "220 mx.remote.test ESMTP\r\n";

ClientTransaction txn1() { return make_txn("a@b.test", {"c@d.test"}, "Subject: 1\r\n\r\nbody\r\n"); }

TEST(ClientTls, BytesAfterThe220ToStartTlsAreDropped) {
    ClientHarness h;
    h.cfg.tls = TlsMode::Opportunistic;
    h.start();
    h.send(txn1());
    h.feed(kGreet + "250-mx\r\n250 STARTTLS\r\n");
    // A man in the middle appends a fake post-TLS EHLO reply (offering AUTH PLAIN and no
    // PIPELINING) to the 220: it must never be read as the answer to the EHLO sent over TLS.
    const std::string injected = "250-evil\r\n250-AUTH PLAIN\r\n250 PIPELINING\r\n";
    h.feed("220 2.0.0 ready\r\n" + injected);
    EXPECT_EQ(h.wire, "EHLO client.test\r\nSTARTTLS\r\n[TLS]EHLO client.test\r\n");
    EXPECT_TRUE(h.has_event("protocol", "before the TLS handshake"));
    EXPECT_TRUE(h.session->tls_active());
    h.feed("250-mx.remote.test\r\n250 SIZE 100\r\n");
    ASSERT_EQ(h.caps.size(), 2u);
    EXPECT_FALSE(h.caps.back().pipelining);
    EXPECT_TRUE(h.caps.back().auth.empty());
    EXPECT_EQ(h.caps.back().size_limit, 100u);
    EXPECT_NE(h.wire.find("[TLS]EHLO client.test\r\nMAIL FROM:<a@b.test> SIZE=20\r\n"), std::string::npos) << h.wire;
}

TEST(ClientTls, BytesFedBeforeTlsEstablishedAreDropped) {
    ClientHarness h;
    h.cfg.tls = TlsMode::Required;
    h.auto_tls = false;
    h.start();
    h.send(txn1());
    h.feed(kGreet + "250-mx\r\n250 STARTTLS\r\n220 go\r\n");
    ASSERT_TRUE(h.tls_pending);
    h.feed("250 injected while the handshake runs\r\n");
    h.handle(h.session->tls_established());
    h.feed("250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(summary(h.results[0]), "D 250 end of data");
    EXPECT_EQ(h.wire, "EHLO client.test\r\nSTARTTLS\r\n[TLS]EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n"
                      "RCPT TO:<c@d.test>\r\nDATA\r\nSubject: 1\r\n\r\nbody\r\n.\r\n");
}

TEST(ClientReuse, SecondTransactionStartsWithRset) {
    for (bool pipelining : {false, true}) {
        ClientHarness h;
        h.start();
        h.feed(kGreet + (pipelining ? "250-mx\r\n250 PIPELINING\r\n" : "250 mx\r\n"));
        EXPECT_TRUE(h.session->ready());
        h.send(txn1());
        h.feed("250 ok\r\n250 ok\r\n354 go\r\n250 ok 1\r\n");
        ASSERT_TRUE(h.session->ready());
        const size_t before = h.wire.size();
        const std::string first = h.send(make_txn("x@b.test", {"y@d.test"}, "two\r\n"));
        if (pipelining) {
            EXPECT_EQ(first, "RSET\r\nMAIL FROM:<x@b.test>\r\nRCPT TO:<y@d.test>\r\nDATA\r\n");
        } else {
            EXPECT_EQ(first, "RSET\r\n");
        }
        h.feed("250 2.0.0 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok 2\r\n");
        EXPECT_EQ(h.wire.substr(before),
                  "RSET\r\nMAIL FROM:<x@b.test>\r\nRCPT TO:<y@d.test>\r\nDATA\r\ntwo\r\n.\r\n");
        ASSERT_EQ(h.results.size(), 2u);
        EXPECT_EQ(summary(h.results[1]), "D 250 end of data");
        EXPECT_EQ(h.session->transactions(), 2u);
    }
}

TEST(ClientReuse, RsetRefusedEndsTheConnection) {
    ClientHarness h;
    h.start();
    h.feed(kGreet + "250 mx\r\n");
    h.send(txn1());
    h.feed("250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
    h.send(txn1());
    h.feed("500 5.5.1 what\r\n");
    ASSERT_EQ(h.failures.size(), 1u);
    EXPECT_EQ(h.failures[0].stage, "RSET");
    ASSERT_EQ(h.results.size(), 2u);
    EXPECT_EQ(summary(h.results[1]), "T 500 5.5.1 RSET");  // never a bounce for our RSET trouble
    EXPECT_TRUE(h.closed_seen);
}

TEST(ClientReuse, SendWhileBusyIsDeferredNotLost) {
    ClientHarness h;
    h.start();
    h.send(txn1());
    h.send(make_txn("a@b.test", {"z@d.test"}, "x"));
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(summary(h.results[0]), "T 451 4.3.0 busy");
}

TEST(ClientBody, StoredMessageIsMadeWireSafe) {
    ClientHarness h;
    h.start();
    // Lone LFs, a lone CR, dot lines and an attempt to end DATA early ("\n.\n"), no final CRLF.
    h.send(make_txn("a@b.test", {"c@d.test"}, ".start\nline\r\n.\r\nMAIL FROM:<evil@x>\n.\nlone\rcr\r\n..two\nend"));
    h.feed(kGreet + "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_NE(h.wire.find("DATA\r\n..start\r\nline\r\n..\r\nMAIL FROM:<evil@x>\r\n..\r\nlone\r\ncr\r\n...two\r\nend\r\n.\r\n"),
              std::string::npos)
        << h.wire;
    // The only CRLF.CRLF is the terminator.
    EXPECT_EQ(h.wire.find("\r\n.\r\n"), h.wire.size() - 5);
}

TEST(ClientBody, LargeMessageGoesInSlices) {
    ClientHarness h;
    h.cfg.limits.body_slice = 1000;
    h.start();
    std::string body;
    for (int i = 0; i < 500; ++i) body += "line " + std::to_string(i) + "\n";
    h.send(make_txn("a@b.test", {"c@d.test"}, body));
    h.feed(kGreet + "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
    EXPECT_GT(h.body_steps, 3);
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(summary(h.results[0]), "D 250 end of data");
}

// A session in the middle of a body sent in 4-octet slices; `extra` follows the 354.
ClientOutput mid_body(ClientHarness& h, const std::string& extra) {
    h.cfg.limits.body_slice = 4;
    h.start();
    h.send(make_txn("a@b.test", {"c@d.test"}, "0123456789abcdef\r\n"));
    return h.session->feed(kGreet + "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n" + extra);
}

TEST(ClientBody, RepliesArrivingWhileTheBodyIsSentAreKeptInOrder) {
    ClientHarness h;
    auto out = mid_body(h, "250 2.0.0 early\r\n");
    ASSERT_EQ(out.action, ClientAction::SendBody);
    EXPECT_FALSE(out.result);
    h.handle(std::move(out));
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(summary(h.results[0]), "D 250 2.0.0 end of data");
}

TEST(ClientBody, FloodWhileTheBodyIsSentIsBounded) {
    ClientHarness h;
    auto out = mid_body(h, "");
    ASSERT_EQ(out.action, ClientAction::SendBody);
    out = h.session->feed(std::string(70 * 1024, 'x'));
    EXPECT_EQ(out.action, ClientAction::Close);
    ASSERT_TRUE(out.failure);
    EXPECT_EQ(out.failure->reply.enhanced, "4.5.0");
}

class FailingSource : public MessageSource {
public:
    uint64_t size() const override { return 100; }
    std::optional<std::string_view> read(size_t) override {
        if (calls_++ == 0) return std::string_view("partial\r\n");
        return std::nullopt;
    }

private:
    int calls_ = 0;
};

TEST(ClientBody, UnreadableMessageNeverGetsTheFinalDot) {
    ClientHarness h;
    h.start();
    auto t = txn1();
    t.message = std::make_shared<FailingSource>();
    h.send(std::move(t));
    h.feed(kGreet + "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    EXPECT_EQ(h.wire.substr(h.wire.find("DATA")), "DATA\r\npartial\r\n[CLOSE]");
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(summary(h.results[0]), "T 451 4.3.0 DATA");
}

TEST(ClientConnection, LostMidDataDefers) {
    ClientHarness h;
    h.start();
    h.send(make_txn("a@b.test", {"c@d.test", "e@d.test"}, "x\r\n"));
    h.feed(kGreet + "250 mx\r\n250 ok\r\n550 5.1.1 no\r\n250 ok\r\n354 go\r\n");
    h.handle(h.session->connection_lost());
    ASSERT_EQ(h.results.size(), 1u);
    EXPECT_EQ(summary(h.results[0]), "F 550 5.1.1 RCPT TO|T 421 4.4.2 end of data");
    EXPECT_TRUE(h.closed_seen);
}

TEST(ClientConnection, TimeoutDefersAndNamesTheStep) {
    ClientHarness h;
    h.cfg.limits.greeting_timeout = std::chrono::seconds(7);
    h.start();
    EXPECT_EQ(h.session->read_timeout(), std::chrono::seconds(7));
    h.send(txn1());
    h.feed(kGreet + "250 mx\r\n250 ok\r\n250 ok\r\n");
    EXPECT_EQ(h.session->read_timeout(), std::chrono::minutes(2));  // DATA initiation, §4.5.3.2.4
    h.handle(h.session->timeout());
    ASSERT_EQ(h.failures.size(), 1u);
    EXPECT_EQ(h.failures[0].stage, "DATA");
    EXPECT_EQ(summary(h.results[0]), "T 421 4.4.2 DATA");
}

TEST(ClientConnection, QuitBeforeGreetingWaitsForIt) {
    ClientHarness h;
    h.start();
    h.quit();
    EXPECT_EQ(h.wire, "");
    h.feed(kGreet + "250 mx\r\n221 bye\r\n");
    EXPECT_EQ(h.wire, "EHLO client.test\r\nQUIT\r\n[CLOSE]");
}

TEST(ClientReplies, MultiLineRepliesKeepEveryLine) {
    ClientHarness h;
    h.start();
    h.send(make_txn("a@b.test", {"c@d.test"}, "x\r\n"));
    h.feed(kGreet + "250 mx\r\n250 ok\r\n550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                    "550-5.1.1 Please try double-checking\r\n550 5.1.1 https://support.example/?p=1 - gsmtp\r\n");
    ASSERT_EQ(h.results.size(), 1u);
    const Reply& r = h.results[0].recipients[0].reply;
    EXPECT_EQ(r.code, 550);
    EXPECT_EQ(r.enhanced, "5.1.1");
    ASSERT_EQ(r.lines.size(), 3u);
    EXPECT_EQ(r.lines[2], "https://support.example/?p=1 - gsmtp");
    EXPECT_EQ(reply_text(r), "550 5.1.1 The email account that you tried to reach does not exist.; "
                             "Please try double-checking; https://support.example/?p=1 - gsmtp");
    EXPECT_TRUE(h.has_event("reply", "RCPT TO: 550 5.1.1 The email account"));
}

TEST(ClientReplies, PasswordsNeverReachEvents) {
    ClientHarness h;
    h.cfg.implicit_tls = true;
    h.cfg.credentials = ClientCredentials{"joe", "s3cr3t-pw"};
    h.start();
    h.feed(kGreet + "250-mx\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n");
    EXPECT_TRUE(h.session->authenticated());
    EXPECT_FALSE(h.events_contain("s3cr3t"));
    EXPECT_FALSE(h.events_contain("czNjcjN0LXB3"));  // base64 of the password
    EXPECT_TRUE(h.has_event("command", "<password>"));
}

TEST(ClientApi, ReadyIsReportedInTheOutput) {
    ClientHarness h;
    h.start();
    EXPECT_FALSE(h.session->feed(kGreet).ready);
    EXPECT_TRUE(h.session->feed("250-mx\r\n250 PIPELINING\r\n").ready);
    EXPECT_TRUE(h.session->capabilities().pipelining);
    EXPECT_FALSE(h.session->send(txn1()).ready);
}

TEST(ClientApi, MessageRequiresSmtputf8) {
    mail::Envelope e;
    e.sender = mbox("a@b.test");
    e.recipients.push_back(mail::Recipient{mbox("c@d.test"), {}, ""});
    EXPECT_FALSE(message_requires_smtputf8(e, "Subject: caf\xc3\xa9\r\n"));  // not sent with SMTPUTF8
    e.params.smtputf8 = true;
    EXPECT_FALSE(message_requires_smtputf8(e, "Subject: plain\r\n"));
    EXPECT_TRUE(message_requires_smtputf8(e, "Subject: caf\xc3\xa9\r\n"));
    e.recipients[0].mailbox.local = "j\xc3\xb6rg";
    EXPECT_TRUE(message_requires_smtputf8(e, "Subject: plain\r\n"));
}

struct ParserCase {
    std::string in;
    ReplyParser::Status status;
    int code;
    std::string enhanced;
    std::vector<std::string> lines;
};

TEST(ReplyParser, Table) {
    const std::vector<ParserCase> cases = {
        {"250 ok\r\n", ReplyParser::Status::Complete, 250, "", {"ok"}},
        {"250\r\n", ReplyParser::Status::Complete, 250, "", {""}},
        {"250 2.1.0 Sender ok\r\n", ReplyParser::Status::Complete, 250, "2.1.0", {"Sender ok"}},
        {"550 2.1.0 class mismatch\r\n", ReplyParser::Status::Complete, 550, "", {"2.1.0 class mismatch"}},
        {"250-a\r\n250-b\r\n250 c\r\n", ReplyParser::Status::Complete, 250, "", {"a", "b", "c"}},
        {"250-a\n250 b\n", ReplyParser::Status::Complete, 250, "", {"a", "b"}},  // bare LF tolerated
        {"451 4.3.0\r\n", ReplyParser::Status::Complete, 451, "4.3.0", {""}},
        {"250-a\r\n", ReplyParser::Status::NeedMore, 0, "", {}},
        {"250 a", ReplyParser::Status::NeedMore, 0, "", {}},
        {"099 x\r\n", ReplyParser::Status::Error, 0, "", {}},
        {"260 x\r\n", ReplyParser::Status::Error, 0, "", {}},
        {"25\r\n", ReplyParser::Status::Error, 0, "", {}},
        {"250x\r\n", ReplyParser::Status::Error, 0, "", {}},
        {"250-a\r\n550 b\r\n", ReplyParser::Status::Error, 0, "", {}},
        {std::string("250 a\0b\r\n", 9), ReplyParser::Status::Error, 0, "", {}},
    };
    for (const auto& c : cases) {
        ReplyParser p;
        p.feed(c.in);
        EXPECT_EQ(p.status(), c.status) << c.in;
        if (c.status == ReplyParser::Status::Complete && p.status() == c.status) {
            Reply r = p.take();
            EXPECT_EQ(r.code, c.code) << c.in;
            EXPECT_EQ(r.enhanced, c.enhanced) << c.in;
            EXPECT_EQ(r.lines, c.lines) << c.in;
        }
    }
}

TEST(ReplyParser, StopsAtTheEndOfOneReply) {
    ReplyParser p;
    const std::string two = "250 a\r\n251 b\r\n";
    const size_t used = p.feed(two);
    EXPECT_EQ(used, 7u);
    EXPECT_EQ(p.take().code, 250);
    p.feed(std::string_view(two).substr(used));
    EXPECT_EQ(p.take().code, 251);
}

TEST(Capabilities, ParsesKeywordsAndParameters) {
    Reply r(250, "", std::vector<std::string>{"mx hello", "pipelining", "SIZE 35882577", "8BITMIME", "SMTPUTF8",
                                              "CHUNKING", "BINARYMIME", "DSN", "STARTTLS", "ENHANCEDSTATUSCODES",
                                              "AUTH PLAIN LOGIN XOAUTH2", "AUTH=LOGIN", "X-UNKNOWN foo"});
    Capabilities c = parse_capabilities(r);
    EXPECT_TRUE(c.pipelining && c.eightbitmime && c.smtputf8 && c.chunking && c.binarymime && c.dsn && c.starttls &&
                c.enhanced_status_codes && c.size_advertised);
    EXPECT_EQ(c.size_limit, 35882577u);
    EXPECT_EQ(c.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2"}));
    Capabilities bad = parse_capabilities(Reply(250, "", std::vector<std::string>{"mx", "SIZE 99999999999999999999999"}));
    EXPECT_TRUE(bad.size_advertised);
    EXPECT_EQ(bad.size_limit, 0u);
}

}  // namespace
}  // namespace petrel::smtp::testing
