// mail::build_dsn and mail::dsn_wanted: RFC 3464 report structure, RET/ENVID/ORCPT handling,
// who gets a report (RFC 3461 NOTIFY, never to <>), and that nothing a peer controls can
// inject a header field or a MIME boundary into the report.
#include <gtest/gtest.h>

#include "mail/dsn.h"

namespace petrel::mail {
namespace {

Mailbox mb(const char* local, const char* domain) { return Mailbox{local, domain}; }

Envelope envelope(DsnRet ret = DsnRet::Unspecified) {
    Envelope e;
    e.sender = mb("alice", "sender.test");
    e.params.ret = ret;
    e.params.envid = "QQ314159";
    Recipient r1;
    r1.mailbox = mb("bob", "remote.test");
    r1.orcpt = "rfc822;Bob@Remote.test";
    Recipient r2;
    r2.mailbox = mb("carol", "remote.test");
    e.recipients = {r1, r2};
    return e;
}

const std::string kOriginal =
    "From: Alice <alice@sender.test>\r\nTo: bob@remote.test\r\nSubject: hello\r\nMessage-ID: <m1@sender.test>\r\n"
    "\r\nSECRET BODY LINE\r\n.leading dot\r\n";

DsnRecipient failed(const Recipient& r, std::string diag) {
    DsnRecipient d;
    d.recipient = r;
    d.action = DsnAction::Failed;
    d.status = "5.1.1";
    d.remote_mta = "mx.remote.test";
    d.diagnostic = std::move(diag);
    d.last_attempt = 1795000000;
    return d;
}

DsnInput input(const Envelope& e, std::vector<DsnRecipient> rs) {
    DsnInput in;
    in.envelope = &e;
    in.original = kOriginal;
    in.recipients = std::move(rs);
    in.reporting_mta = "mx.petrel.test";
    in.arrival = 1794990000;
    in.now = 1795000060;
    in.message_id = "<dsn1@mx.petrel.test>";
    return in;
}

bool has_line(const std::string& msg, const std::string& line) {
    return msg.find("\r\n" + line + "\r\n") != std::string::npos;
}

TEST(DsnWanted, Table) {
    struct Row {
        bool null_sender;
        Notify notify;
        DsnAction action;
        bool want;
    };
    const Notify unspecified{};
    const Notify never{false, false, false, true, true};
    const Notify success{true, false, false, false, true};
    const Notify failure{false, true, false, false, true};
    const Notify delay{false, false, true, false, true};
    const std::vector<Row> rows = {
        {true, unspecified, DsnAction::Failed, false},   {true, failure, DsnAction::Failed, false},
        {true, success, DsnAction::Delivered, false},    {false, never, DsnAction::Failed, false},
        {false, never, DsnAction::Delayed, false},       {false, unspecified, DsnAction::Failed, true},
        {false, unspecified, DsnAction::Delayed, true},  {false, unspecified, DsnAction::Delivered, false},
        {false, unspecified, DsnAction::Relayed, false}, {false, success, DsnAction::Failed, false},
        {false, success, DsnAction::Delivered, true},    {false, success, DsnAction::Relayed, true},
        {false, success, DsnAction::Expanded, true},     {false, failure, DsnAction::Failed, true},
        {false, failure, DsnAction::Delayed, false},     {false, delay, DsnAction::Delayed, true},
        {false, delay, DsnAction::Failed, false},
    };
    for (size_t i = 0; i < rows.size(); ++i) {
        Envelope e = envelope();
        if (rows[i].null_sender) e.sender.reset();
        Recipient r;
        r.mailbox = mb("x", "y.test");
        r.notify = rows[i].notify;
        EXPECT_EQ(dsn_wanted(e, r, rows[i].action), rows[i].want) << "row " << i;
    }
}

TEST(Dsn, TwoFailedRecipientsShareOneHeadersOnlyReport) {
    const Envelope e = envelope(DsnRet::Headers);
    auto dsn = build_dsn(input(e, {failed(e.recipients[0], "550 5.1.1 no such user"),
                                   failed(e.recipients[1], "550 5.1.1 unknown")}));
    ASSERT_TRUE(dsn);
    const std::string& m = dsn->message;
    EXPECT_EQ(m.rfind("From: Mail Delivery System <MAILER-DAEMON@mx.petrel.test>\r\n", 0), 0u);
    EXPECT_TRUE(has_line(m, "To: <alice@sender.test>"));
    EXPECT_TRUE(has_line(m, "Auto-Submitted: auto-replied"));
    EXPECT_TRUE(has_line(m, "Message-ID: <dsn1@mx.petrel.test>"));
    EXPECT_TRUE(has_line(m, "Date: Wed, 18 Nov 2026 11:07:40 +0000"));
    EXPECT_TRUE(has_line(m, "Subject: Undelivered Mail Returned to Sender"));
    EXPECT_NE(m.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
    EXPECT_TRUE(has_line(m, "Content-Type: message/delivery-status"));
    EXPECT_TRUE(has_line(m, "Reporting-MTA: dns; mx.petrel.test"));
    EXPECT_TRUE(has_line(m, "Original-Envelope-Id: QQ314159"));
    EXPECT_TRUE(has_line(m, "Final-Recipient: rfc822; bob@remote.test"));
    EXPECT_TRUE(has_line(m, "Original-Recipient: rfc822; Bob@Remote.test"));
    EXPECT_TRUE(has_line(m, "Final-Recipient: rfc822; carol@remote.test"));
    EXPECT_TRUE(has_line(m, "Diagnostic-Code: smtp; 550 5.1.1 no such user"));
    EXPECT_TRUE(has_line(m, "Remote-MTA: dns; mx.remote.test"));
    EXPECT_TRUE(has_line(m, "Action: failed"));
    EXPECT_TRUE(has_line(m, "Status: 5.1.1"));
    EXPECT_TRUE(has_line(m, "Content-Type: text/rfc822-headers"));
    EXPECT_TRUE(has_line(m, "Subject: hello"));
    EXPECT_EQ(m.find("SECRET BODY LINE"), std::string::npos);  // headers only
    // One report, both recipients.
    EXPECT_EQ(m.find("Reporting-MTA"), m.rfind("Reporting-MTA"));
    // The report goes from <> to the original sender and never asks for a report itself.
    EXPECT_FALSE(dsn->envelope.sender);
    ASSERT_EQ(dsn->envelope.recipients.size(), 1u);
    EXPECT_EQ(dsn->envelope.recipients[0].mailbox.str(), "alice@sender.test");
    EXPECT_TRUE(dsn->envelope.recipients[0].notify.never);
}

TEST(Dsn, RetFullReturnsTheWholeMessage) {
    const Envelope e = envelope(DsnRet::Full);
    auto dsn = build_dsn(input(e, {failed(e.recipients[0], "554 5.7.1 rejected")}));
    ASSERT_TRUE(dsn);
    EXPECT_TRUE(has_line(dsn->message, "Content-Type: message/rfc822"));
    EXPECT_TRUE(has_line(dsn->message, "SECRET BODY LINE"));
    EXPECT_TRUE(has_line(dsn->message, ".leading dot"));
}

TEST(Dsn, UnspecifiedRetAndDelaysReturnHeaders) {
    Envelope e = envelope(DsnRet::Unspecified);
    auto f = build_dsn(input(e, {failed(e.recipients[0], "")}));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->message.find("SECRET BODY LINE"), std::string::npos);
    EXPECT_EQ(f->message.find("Diagnostic-Code"), std::string::npos);  // none given, none invented

    e.params.ret = DsnRet::Full;  // RET applies to failure reports only (RFC 3461 §4.3)
    DsnRecipient d = failed(e.recipients[1], "451 4.4.1 connection refused");
    d.action = DsnAction::Delayed;
    d.status = "4.4.1";
    d.will_retry_until = 1795400000;
    auto w = build_dsn(input(e, {d}));
    ASSERT_TRUE(w);
    EXPECT_TRUE(has_line(w->message, "Subject: Delayed Mail (still being retried)"));
    EXPECT_TRUE(has_line(w->message, "Action: delayed"));
    EXPECT_NE(w->message.find("Will-Retry-Until: "), std::string::npos);
    EXPECT_EQ(w->message.find("SECRET BODY LINE"), std::string::npos);
}

TEST(Dsn, NeverForTheNullSender) {
    Envelope e = envelope();
    e.sender.reset();
    EXPECT_FALSE(build_dsn(input(e, {failed(e.recipients[0], "550 x")})));
}

TEST(Dsn, PeerTextCannotInjectFieldsOrBoundaries) {
    Envelope e = envelope(DsnRet::Full);
    e.params.envid = "x\r\nBcc: victim@evil.test";
    e.recipients[0].orcpt = "rfc822;a@b\r\nX-Injected: 1";
    DsnInput in = input(e, {failed(e.recipients[0], "550 bad\r\nX-Diag-Injected: 1\rY")});
    const std::string original = "Subject: x\r\n\r\n--=_petrel__dsn1_mx.petrel.test_\r\nbody\r\n";
    in.original = original;
    auto dsn = build_dsn(in);
    ASSERT_TRUE(dsn);
    const std::string& m = dsn->message;
    EXPECT_EQ(m.find("\r\nBcc:"), std::string::npos);
    EXPECT_EQ(m.find("\r\nX-Injected:"), std::string::npos);
    EXPECT_EQ(m.find("\r\nX-Diag-Injected:"), std::string::npos);
    EXPECT_TRUE(has_line(m, "Original-Envelope-Id: x Bcc: victim@evil.test"));
    // The boundary changed so the returned body's look-alike line cannot close a part.
    const size_t b = m.find("boundary=\"");
    ASSERT_NE(b, std::string::npos);
    const std::string boundary = m.substr(b + 10, m.find('"', b + 10) - b - 10);
    EXPECT_EQ(original.find(boundary), std::string::npos);
    // Every line ends in CRLF and none is longer than RFC 5322 §2.1.1 allows.
    size_t pos = 0;
    while (pos < m.size()) {
        const size_t e2 = m.find("\r\n", pos);
        ASSERT_NE(e2, std::string::npos);
        EXPECT_LE(e2 - pos, 998u);
        EXPECT_EQ(m.substr(pos, e2 - pos).find_first_of("\r\n"), std::string::npos);
        pos = e2 + 2;
    }
}

TEST(Dsn, Smtputf8MessagesGetTheGlobalTypes) {
    Envelope e = envelope(DsnRet::Headers);
    e.params.smtputf8 = true;
    e.recipients[0].mailbox = mb("j\xc3\xb6rg", "remote.test");
    auto dsn = build_dsn(input(e, {failed(e.recipients[0], "550 5.1.1 no")}));
    ASSERT_TRUE(dsn);
    EXPECT_TRUE(has_line(dsn->message, "Content-Type: message/global-delivery-status"));
    EXPECT_TRUE(has_line(dsn->message, "Content-Type: message/global-headers"));
    EXPECT_TRUE(has_line(dsn->message, "Final-Recipient: utf-8; j\xc3\xb6rg@remote.test"));
    EXPECT_TRUE(dsn->envelope.params.smtputf8);
}

TEST(Dsn, StatusFromReply) {
    EXPECT_EQ(dsn_status_for(550, "5.1.1"), "5.1.1");
    EXPECT_EQ(dsn_status_for(550, ""), "5.0.0");
    EXPECT_EQ(dsn_status_for(451, "5.1.1"), "4.0.0");  // class mismatch: ignored
    EXPECT_EQ(dsn_status_for(250, "2.0.0"), "2.0.0");
}

}  // namespace
}  // namespace petrel::mail
