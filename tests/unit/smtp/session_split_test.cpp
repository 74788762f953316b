// Every-split tests: a whole conversation fed at once, byte by byte, split at every position
// and cut at random must give the same transcript (replies, actions, messages). The session's
// framing must not depend on how TCP segments the stream.
#include <gtest/gtest.h>

#include <random>

#include "session_harness.h"

namespace petrel::smtp::testing {
namespace {

std::string conversation() {
    std::string c;
    c += "EHLO client.example\r\n";
    c += "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n";
    c += "AUTH LOGIN\r\n";  // already authenticated: 503
    c += "MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME ENVID=x+2By\r\n";
    c += "RCPT TO:<c@d.test> NOTIFY=SUCCESS ORCPT=rfc822;c+40d.test\r\n";
    c += "RCPT TO:<\"quoted @ local\"@[192.0.2.1]>\r\n";
    c += "RCPT TO:<bad@@x>\r\n";
    c += "DATA\r\nSubject: hi\r\n\r\n..stuffed\r\nline\r\n.\r\n";
    c += "NOOP\r\nVRFY x\r\nHELP\r\nFROB\r\n";
    c += "NOOP " + std::string(600, 'L') + "\r\n";  // overlong
    c += "RSET\nNOOP\r\n";                           // bare LF
    c += "MAIL FROM:<> \r\nRCPT TO:<e@d.test>\r\n";
    c += "DATA\r\nx\n.\nMAIL FROM:<evil@b.test>\r\n.\r\n";  // smuggling attempt, refused
    c += "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n";
    c += "BDAT 10\r\n0123456\r\n\rBDAT 2\r\n\nx";  // CR LF across a chunk boundary
    c += "BDAT 0 LAST\r\n";
    c += "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\nBDAT 5 LAST\r\n";
    c += std::string("\0\r\n.\n", 5);  // binary: NUL, bare LF are fine
    c += "RSET\r\n";
    c += "STARTTLS\r\n";  // last: anything after it would be refused (CVE-2011-0411)
    return c;
}

std::string conversation_with_nul() { return conversation(); }

Harness make() {
    Harness h;
    h.cfg.tls_available = true;
    h.cfg.tls_active = false;
    h.cfg.auth_enabled = true;
    h.cfg.auth_requires_tls = false;
    h.cfg.limits.max_message_size = 1000;
    return h;
}

struct Result {
    std::string transcript;
    std::vector<std::string> bodies;
};

Result run(const std::string& conv, const std::vector<size_t>& cuts) {
    Harness h = make();
    h.start();
    size_t prev = 0;
    for (size_t cut : cuts) {
        h.feed(std::string_view(conv).substr(prev, cut - prev));
        prev = cut;
    }
    h.feed(std::string_view(conv).substr(prev));
    Result r;
    r.transcript = h.transcript;
    for (const auto& m : h.messages) r.bodies.push_back(m.body);
    return r;
}

TEST(SessionSplit, ConversationIsMeaningful) {
    const std::string conv = conversation_with_nul();
    Result whole = run(conv, {});
    // Sanity: the conversation exercises what it claims to.
    EXPECT_EQ(codes(whole.transcript),
              (std::vector<std::string>{"220", "250", "235 2.7.0", "503 5.5.1", "250 2.1.0", "250 2.1.5", "250 2.1.5",
                                        "501 5.1.3", "354", "250 2.0.0", "250 2.0.0", "252 2.5.2", "214 2.0.0",
                                        "500 5.5.2", "500 5.5.6", "500 5.5.2", "250 2.0.0", "250 2.1.0", "250 2.1.5",
                                        "354", "550 5.5.2", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0",
                                        "250 2.0.0", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0",
                                        "220 2.0.0"}))
        << whole.transcript;
    ASSERT_EQ(whole.bodies.size(), 3u);
    EXPECT_EQ(whole.bodies[0], "Subject: hi\r\n\r\n.stuffed\r\nline\r\n");
    EXPECT_EQ(whole.bodies[1], "0123456\r\n\r\nx");
    EXPECT_EQ(whole.bodies[2], std::string("\0\r\n.\n", 5));
    EXPECT_NE(whole.transcript.find("[STARTTLS]"), std::string::npos);
}

TEST(SessionSplit, ByteByByte) {
    const std::string conv = conversation_with_nul();
    const Result whole = run(conv, {});
    std::vector<size_t> cuts;
    for (size_t i = 1; i < conv.size(); ++i) cuts.push_back(i);
    const Result bytes = run(conv, cuts);
    EXPECT_EQ(bytes.transcript, whole.transcript);
    EXPECT_EQ(bytes.bodies, whole.bodies);
}

TEST(SessionSplit, EverySplitPosition) {
    const std::string conv = conversation_with_nul();
    const Result whole = run(conv, {});
    for (size_t i = 1; i < conv.size(); ++i) {
        const Result r = run(conv, {i});
        ASSERT_EQ(r.transcript, whole.transcript) << "split at " << i;
        ASSERT_EQ(r.bodies, whole.bodies) << "split at " << i;
    }
}

TEST(SessionSplit, RandomCuts) {
    const std::string conv = conversation_with_nul();
    const Result whole = run(conv, {});
    std::mt19937 rng(12345);
    for (int round = 0; round < 300; ++round) {
        std::vector<size_t> cuts;
        size_t pos = 0;
        while (true) {
            pos += 1 + rng() % 40;
            if (pos >= conv.size()) break;
            cuts.push_back(pos);
        }
        const Result r = run(conv, cuts);
        ASSERT_EQ(r.transcript, whole.transcript) << "round " << round;
        ASSERT_EQ(r.bodies, whole.bodies) << "round " << round;
    }
}

}  // namespace
}  // namespace petrel::smtp::testing

namespace petrel::smtp::testing {
namespace {

// RFC 2034 §3: every reply carries an enhanced status code, except the greeting, the EHLO/HELO
// reply, 354 and 334 (see docs/smtp-protocol.md).
TEST(SessionSplit, EveryReplyHasEnhancedCode) {
    const Result r = run(conversation(), {});
    bool in_ehlo = false;
    for (std::string line : reply_lines(r.transcript)) {
        while (!line.empty() && line[0] == '[') line.erase(0, line.find(']') + 1);
        if (line.empty()) continue;
        const std::string code = line.substr(0, 3);
        if (line.rfind("250-mx.example.test", 0) == 0) in_ehlo = true;
        if (in_ehlo) {
            if (line[3] == ' ') in_ehlo = false;
            continue;
        }
        if (code == "220" || code == "354" || code == "334") continue;
        ASSERT_GE(line.size(), 9u) << line;
        EXPECT_EQ(line[4], code[0]) << line;
        EXPECT_EQ(line[5], '.') << line;
    }
}

}  // namespace
}  // namespace petrel::smtp::testing
