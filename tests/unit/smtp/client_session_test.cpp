// Table-driven tests of smtp::ClientSession: each case is a server transcript (fed in the
// segments given) and the exact bytes the client must write, the per-recipient results and the
// connection failure, if any. Covers the happy path with and without PIPELINING, the HELO
// fallback, STARTTLS (opportunistic, required, not offered), AUTH PLAIN/LOGIN, SIZE/SMTPUTF8/
// BINARYMIME refusals, mixed RCPT results, 4xx/5xx at each step, 421, DSN and BODY parameters,
// BDAT, and malformed replies.
#include <gtest/gtest.h>

#include <functional>

#include "client_harness.h"

namespace petrel::smtp::testing {
namespace {

const std::string kBody = "Subject: t\r\n\r\nhello\r\n";  // 21 octets
const std::string kGreet = "220 mx.remote.test ESMTP\r\n";

std::string ehlo(std::vector<std::string> ext) {
    std::string r = ext.empty() ? "250 mx.remote.test\r\n" : "250-mx.remote.test\r\n";
    for (size_t i = 0; i < ext.size(); ++i) r += (i + 1 == ext.size() ? "250 " : "250-") + ext[i] + "\r\n";
    return r;
}

struct Case {
    std::string name;
    std::function<void(ClientConfig&)> config;
    std::function<ClientTransaction()> txn;
    std::vector<std::string> server;  // fed one segment per feed() call
    std::string want_wire;
    std::string want_result;   // summary(); "" when no result is expected
    std::string want_failure;  // "code enhanced stage" of the connection failure; "" when none
};

ClientTransaction two_rcpts() { return make_txn("a@b.test", {"c@d.test", "e@d.test"}, kBody); }
ClientTransaction one_rcpt() { return make_txn("a@b.test", {"c@d.test"}, kBody); }

const std::string kMailPart = "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n";
const std::string kDataPart = "DATA\r\n" + kBody + ".\r\n";
const std::string kBye = "QUIT\r\n[CLOSE]";

std::vector<Case> cases() {
    auto none = [](ClientConfig&) {};
    return {
        {"happy path without pipelining", none, two_rcpts,
         {kGreet + ehlo({"SIZE 1000", "8BITMIME"}) + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n250 2.0.0 queued\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test> SIZE=21\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\n" + kDataPart + kBye,
         "D 250 2.0.0 end of data|D 250 2.0.0 end of data", ""},
        {"happy path with pipelining", none, two_rcpts,
         {kGreet + ehlo({"PIPELINING"}), "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n250 2.0.0 queued\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\n" + kBody +
             ".\r\n" + kBye,
         "D 250 2.0.0 end of data|D 250 2.0.0 end of data", ""},
        {"HELO fallback after 5xx to EHLO", none, one_rcpt,
         {kGreet + "502 5.5.1 what\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nHELO client.test\r\n" + kMailPart + kDataPart + kBye, "D 250 end of data", ""},
        {"HELO refused too: permanent connection failure", none, one_rcpt,
         {kGreet + "500 no\r\n554 5.7.1 go away\r\n"}, "EHLO client.test\r\nHELO client.test\r\nQUIT\r\n[CLOSE]",
         "F 554 5.7.1 HELO", "554 5.7.1 HELO"},
        {"4xx to EHLO: temporary failure, no HELO", none, one_rcpt, {kGreet + "451 4.3.0 later\r\n"},
         "EHLO client.test\r\nQUIT\r\n[CLOSE]", "T 451 4.3.0 EHLO", "451 4.3.0 EHLO"},
        {"554 greeting: QUIT, permanent", none, one_rcpt, {"554 5.3.2 no service\r\n"}, "QUIT\r\n[CLOSE]",
         "F 554 5.3.2 greeting", "554 5.3.2 greeting"},
        {"421 greeting: close without QUIT", none, one_rcpt, {"421 4.3.2 busy\r\n"}, "[CLOSE]", "T 421 4.3.2 greeting",
         "421 4.3.2 greeting"},
        {"mixed RCPT results", none,
         [] { return make_txn("a@b.test", {"c@d.test", "x@d.test", "y@d.test"}, kBody); },
         {kGreet + ehlo({"PIPELINING", "ENHANCEDSTATUSCODES"}) +
          "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 unknown user\r\n450 4.2.0 greylisted\r\n354 go\r\n250 2.0.0 queued\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<x@d.test>\r\nRCPT TO:<y@d.test>\r\n" +
             kDataPart + kBye,
         "D 250 2.0.0 end of data|F 550 5.1.1 RCPT TO|T 450 4.2.0 RCPT TO", ""},
        {"every RCPT refused, no pipelining: no DATA", none, two_rcpts,
         {kGreet + ehlo({}) + "250 ok\r\n550 5.1.1 no\r\n551 5.1.6 moved\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\n" + kBye,
         "F 550 5.1.1 RCPT TO|F 551 5.1.6 RCPT TO", ""},
        {"every RCPT refused, pipelining, DATA refused", none, one_rcpt,
         {kGreet + ehlo({"PIPELINING"}) + "250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n"},
         "EHLO client.test\r\n" + kMailPart + "DATA\r\n" + kBye, "F 550 5.1.1 RCPT TO", ""},
        {"every RCPT refused, pipelining, DATA accepted anyway: lone dot (RFC 2920 3.1)", none, one_rcpt,
         {kGreet + ehlo({"PIPELINING"}) + "250 ok\r\n550 5.1.1 no\r\n354 go\r\n554 5.5.1 empty\r\n"},
         "EHLO client.test\r\n" + kMailPart + "DATA\r\n.\r\n" + kBye, "F 550 5.1.1 RCPT TO", ""},
        {"MAIL refused 5xx: all recipients failed, no RCPT", none, two_rcpts,
         {kGreet + ehlo({}) + "553 5.1.8 bad sender\r\n"}, "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n" + kBye,
         "F 553 5.1.8 MAIL FROM|F 553 5.1.8 MAIL FROM", ""},
        {"MAIL refused 4xx with pipelining", none, one_rcpt,
         {kGreet + ehlo({"PIPELINING"}) + "451 4.3.0 later\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n"},
         "EHLO client.test\r\n" + kMailPart + "DATA\r\n" + kBye, "T 451 4.3.0 MAIL FROM", ""},
        {"DATA refused 4xx", none, one_rcpt, {kGreet + ehlo({}) + "250 ok\r\n250 ok\r\n451 4.3.0 later\r\n"},
         "EHLO client.test\r\n" + kMailPart + "DATA\r\n" + kBye, "T 451 4.3.0 DATA", ""},
        {"end of data refused 5xx", none, one_rcpt,
         {kGreet + ehlo({}) + "250 ok\r\n250 ok\r\n354 go\r\n554 5.7.1 spam\r\n"},
         "EHLO client.test\r\n" + kMailPart + kDataPart + kBye, "F 554 5.7.1 end of data", ""},
        {"421 after RCPT: everything pending deferred, no QUIT", none, two_rcpts,
         {kGreet + ehlo({"PIPELINING"}) + "250 ok\r\n250 ok\r\n421 4.7.0 shutting down\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\n[CLOSE]",
         "T 421 4.7.0 RCPT TO|T 421 4.7.0 RCPT TO", "421 4.7.0 RCPT TO"},
        {"421 after the final dot", none, one_rcpt,
         {kGreet + ehlo({}) + "250 ok\r\n250 ok\r\n354 go\r\n421 4.4.2 timeout\r\n"},
         "EHLO client.test\r\n" + kMailPart + kDataPart + "[CLOSE]", "T 421 4.4.2 end of data",
         "421 4.4.2 end of data"},
        {"SIZE larger than the server's: not sent, 552 5.3.4", none, one_rcpt, {kGreet + ehlo({"SIZE 10"})},
         "EHLO client.test\r\n" + kBye, "F 552 5.3.4 SIZE check", ""},
        {"SIZE 0 means no limit", none, one_rcpt,
         {kGreet + ehlo({"SIZE 0"}) + "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test> SIZE=21\r\nRCPT TO:<c@d.test>\r\n" + kDataPart + kBye,
         "D 250 end of data", ""},
        {"SMTPUTF8 needed, not offered: 5.6.7, not sent", none,
         [] {
             auto t = make_txn("j\xc3\xb6rg@b.test", {"c@d.test"}, kBody);
             t.envelope.params.smtputf8 = true;
             return t;
         },
         {kGreet + ehlo({"8BITMIME"})}, "EHLO client.test\r\n" + kBye, "F 554 5.6.7 SMTPUTF8 check", ""},
        {"SMTPUTF8 flagged by the caller (UTF-8 headers), not offered", none,
         [] {
             auto t = one_rcpt();
             t.envelope.params.smtputf8 = true;
             t.requires_smtputf8 = true;
             return t;
         },
         {kGreet + ehlo({})}, "EHLO client.test\r\n" + kBye, "F 554 5.6.7 SMTPUTF8 check", ""},
        {"SMTPUTF8 offered: parameter passed", none,
         [] {
             auto t = make_txn("j\xc3\xb6rg@b.test", {"c@d.test"}, kBody);
             t.envelope.params.smtputf8 = true;
             t.envelope.params.body = mail::BodyType::EightBitMime;
             return t;
         },
         {kGreet + ehlo({"8BITMIME", "SMTPUTF8"}) + "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nMAIL FROM:<j\xc3\xb6rg@b.test> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<c@d.test>\r\n" + kDataPart +
             kBye,
         "D 250 end of data", ""},
        {"8BITMIME body to a server without 8BITMIME: as is, no BODY=", none,
         [] {
             auto t = make_txn("a@b.test", {"c@d.test"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
             t.envelope.params.body = mail::BodyType::EightBitMime;
             return t;
         },
         {kGreet + ehlo({}) + "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\n" + kMailPart + "DATA\r\nSubject: caf\xc3\xa9\r\n\r\nx\r\n.\r\n" + kBye, "D 250 end of data",
         ""},
        {"DSN parameters when DSN is offered", none,
         [] {
             auto t = make_txn("a@b.test", {"c@d.test", "e@d.test"}, kBody);
             t.envelope.params.ret = mail::DsnRet::Headers;
             t.envelope.params.envid = "id 1+x";
             t.envelope.recipients[0].notify = {true, true, false, false, true};
             t.envelope.recipients[0].orcpt = "rfc822;C@d.test";
             t.envelope.recipients[1].notify = {false, false, false, true, true};
             return t;
         },
         {kGreet + ehlo({"DSN", "PIPELINING"}) + "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test> RET=HDRS ENVID=id+201+2Bx\r\n"
         "RCPT TO:<c@d.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;C@d.test\r\nRCPT TO:<e@d.test> NOTIFY=NEVER\r\n" +
             kDataPart + kBye,
         "D 250 end of data|D 250 end of data", ""},
        {"no DSN parameters when DSN is not offered", none,
         [] {
             auto t = one_rcpt();
             t.envelope.params.ret = mail::DsnRet::Full;
             t.envelope.params.envid = "x";
             t.envelope.recipients[0].notify = {true, false, false, false, true};
             t.envelope.recipients[0].orcpt = "rfc822;c@d.test";
             return t;
         },
         {kGreet + ehlo({}) + "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\n" + kMailPart + kDataPart + kBye, "D 250 end of data", ""},
        {"BINARYMIME with CHUNKING: BDAT chunks", [](ClientConfig& c) { c.limits.body_slice = 12; },
         [] {
             auto t = one_rcpt();
             t.envelope.params.body = mail::BodyType::BinaryMime;
             return t;
         },
         {kGreet + ehlo({"PIPELINING", "CHUNKING", "BINARYMIME"}) + "250 ok\r\n250 ok\r\n250 ok\r\n250 2.0.0 done\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\n"
         "BDAT 12\r\nSubject: t\r\nBDAT 9 LAST\r\n\r\nhello\r\n" +
             kBye,
         "D 250 2.0.0 end of data", ""},
        {"BINARYMIME without CHUNKING: 5.6.3, not sent", none,
         [] {
             auto t = one_rcpt();
             t.envelope.params.body = mail::BodyType::BinaryMime;
             return t;
         },
         {kGreet + ehlo({"BINARYMIME"})}, "EHLO client.test\r\n" + kBye, "F 554 5.6.3 BODY check", ""},
        {"BDAT refused mid-message", [](ClientConfig& c) { c.limits.body_slice = 12; },
         [] {
             auto t = one_rcpt();
             t.envelope.params.body = mail::BodyType::BinaryMime;
             return t;
         },
         {kGreet + ehlo({"CHUNKING", "BINARYMIME"}) + "250 ok\r\n250 ok\r\n552 5.3.4 too big\r\n"},
         "EHLO client.test\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\nBDAT 12\r\nSubject: t\r\n" +
             kBye,
         "F 552 5.3.4 BDAT", ""},
        {"STARTTLS opportunistic, offered", [](ClientConfig& c) { c.tls = TlsMode::Opportunistic; }, one_rcpt,
         {kGreet + ehlo({"STARTTLS"}), "220 2.0.0 go ahead\r\n", ehlo({"PIPELINING"}) + "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nSTARTTLS\r\n[TLS]EHLO client.test\r\n" + kMailPart + kDataPart + kBye, "D 250 end of data",
         ""},
        {"STARTTLS opportunistic, not offered: in clear", [](ClientConfig& c) { c.tls = TlsMode::Opportunistic; },
         one_rcpt, {kGreet + ehlo({}) + "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\n" + kMailPart + kDataPart + kBye, "D 250 end of data", ""},
        {"STARTTLS opportunistic, refused: in clear", [](ClientConfig& c) { c.tls = TlsMode::Opportunistic; },
         one_rcpt, {kGreet + ehlo({"STARTTLS"}) + "454 4.7.0 TLS not available\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nSTARTTLS\r\n" + kMailPart + kDataPart + kBye, "D 250 end of data", ""},
        {"STARTTLS required, not offered: deferred, nothing in clear",
         [](ClientConfig& c) { c.tls = TlsMode::Required; }, one_rcpt, {kGreet + ehlo({"PIPELINING"})},
         "EHLO client.test\r\nQUIT\r\n[CLOSE]", "T 451 4.7.4 STARTTLS", "451 4.7.4 STARTTLS"},
        {"STARTTLS required, refused: deferred", [](ClientConfig& c) { c.tls = TlsMode::Required; }, one_rcpt,
         {kGreet + ehlo({"STARTTLS"}) + "554 5.7.0 no TLS for you\r\n"}, "EHLO client.test\r\nSTARTTLS\r\nQUIT\r\n[CLOSE]",
         "T 554 5.7.0 STARTTLS", "554 5.7.0 STARTTLS"},
        {"TLS mode none: STARTTLS offered but not used", none, one_rcpt,
         {kGreet + ehlo({"STARTTLS"}) + "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\n" + kMailPart + kDataPart + kBye, "D 250 end of data", ""},
        {"AUTH PLAIN under implicit TLS, no AUTH= on MAIL without a submitter",
         [](ClientConfig& c) {
             c.implicit_tls = true;
             c.credentials = ClientCredentials{"joe", "secret"};
         },
         one_rcpt, {kGreet + ehlo({"AUTH LOGIN PLAIN"}) + "235 2.7.0 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nAUTH PLAIN AGpvZQBzZWNyZXQ=\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n" +
             kDataPart + kBye,
         "D 250 end of data", ""},
        {"AUTH LOGIN after STARTTLS",
         [](ClientConfig& c) {
             c.tls = TlsMode::Required;
             c.credentials = ClientCredentials{"joe", "secret"};
         },
         one_rcpt,
         {kGreet + ehlo({"STARTTLS"}), "220 go\r\n",
          ehlo({"AUTH=LOGIN"}) + "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n"},
         "EHLO client.test\r\nSTARTTLS\r\n[TLS]EHLO client.test\r\nAUTH LOGIN\r\nam9l\r\nc2VjcmV0\r\n"
         "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n" +
             kDataPart + kBye,
         "D 250 end of data", ""},
        {"AUTH refused 535: deferred (soft bounce), QUIT",
         [](ClientConfig& c) {
             c.implicit_tls = true;
             c.credentials = ClientCredentials{"joe", "bad"};
         },
         one_rcpt, {kGreet + ehlo({"AUTH PLAIN"}) + "535 5.7.8 bad credentials\r\n"},
         "EHLO client.test\r\nAUTH PLAIN AGpvZQBiYWQ=\r\nQUIT\r\n[CLOSE]", "T 535 5.7.8 AUTH", "535 5.7.8 AUTH"},
        {"AUTH needed but not offered", [](ClientConfig& c) {
             c.implicit_tls = true;
             c.credentials = ClientCredentials{"joe", "x"};
         },
         one_rcpt, {kGreet + ehlo({"AUTH CRAM-MD5"})}, "EHLO client.test\r\nQUIT\r\n[CLOSE]", "T 451 4.7.0 AUTH",
         "451 4.7.0 AUTH"},
        {"credentials never sent in clear", [](ClientConfig& c) { c.credentials = ClientCredentials{"joe", "x"}; },
         one_rcpt, {kGreet + ehlo({"AUTH PLAIN"})}, "EHLO client.test\r\nQUIT\r\n[CLOSE]", "T 451 4.7.0 AUTH",
         "451 4.7.0 AUTH"},
        {"malformed reply code", none, one_rcpt, {kGreet + "2x0 hello\r\n"}, "EHLO client.test\r\n[CLOSE]",
         "T 451 4.5.0 EHLO", "451 4.5.0 EHLO"},
        {"inconsistent multi-line codes", none, one_rcpt, {kGreet + "250-mx\r\n251 SIZE\r\n"},
         "EHLO client.test\r\n[CLOSE]", "T 451 4.5.0 EHLO", "451 4.5.0 EHLO"},
        {"bad separator", none, one_rcpt, {kGreet + "250_mx\r\n"}, "EHLO client.test\r\n[CLOSE]", "T 451 4.5.0 EHLO",
         "451 4.5.0 EHLO"},
        {"reply line over the limit", none, one_rcpt, {kGreet + "250 " + std::string(3000, 'x') + "\r\n"},
         "EHLO client.test\r\n[CLOSE]", "T 451 4.5.0 EHLO", "451 4.5.0 EHLO"},
        {"too many reply lines", none, one_rcpt,
         {kGreet + [] {
              std::string s;
              for (int i = 0; i < 150; ++i) s += "250-X" + std::to_string(i) + "\r\n";
              return s;
          }()},
         "EHLO client.test\r\n[CLOSE]", "T 451 4.5.0 EHLO", "451 4.5.0 EHLO"},
        {"a reply to nothing", none, one_rcpt,
         {kGreet + ehlo({"SIZE 10"}) + "250 surprise\r\n"}, "EHLO client.test\r\nQUIT\r\n[CLOSE]",
         "F 552 5.3.4 SIZE check", "250 connection"},
    };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ClientCases : public ::testing::TestWithParam<Case> {};

TEST_P(ClientCases, Transcript) {
    const Case& c = GetParam();
    ClientHarness h;
    c.config(h.cfg);
    h.start();
    h.send(c.txn());
    for (const auto& seg : c.server) h.feed(seg);
    if (h.session->ready()) {
        h.quit();
        h.feed("221 2.0.0 bye\r\n");
    }
    EXPECT_EQ(h.wire, c.want_wire);
    std::string got_result;
    for (const auto& r : h.results) got_result += (got_result.empty() ? "" : " / ") + summary(r);
    EXPECT_EQ(got_result, c.want_result);
    std::string got_failure;
    if (!h.failures.empty()) {
        const auto& f = h.failures.front();
        got_failure = std::to_string(f.reply.code) + (f.reply.enhanced.empty() ? "" : " " + f.reply.enhanced) + " " + f.stage;
    }
    EXPECT_EQ(got_failure, c.want_failure);
    EXPECT_LE(h.failures.size(), 1u);
    EXPECT_TRUE(h.session->closed());
}

INSTANTIATE_TEST_SUITE_P(All, ClientCases, ::testing::ValuesIn(cases()), [](const auto& info) {
    std::string n;
    for (char ch : info.param.name) n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    return n;
});

}  // namespace
}  // namespace petrel::smtp::testing
