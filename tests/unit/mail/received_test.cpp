// The Received header: RFC 5321 §4.4 stamp, RFC 3848 / RFC 6531 protocol types, RFC 8314 §4.3.
#include <gtest/gtest.h>

#include "mail/received.h"

namespace petrel::mail {
namespace {

Envelope envelope() {
    Envelope e;
    e.facts.client_ip = "192.0.2.7";
    e.facts.helo = "client.example";
    e.facts.esmtp = true;
    Recipient r;
    r.mailbox = Mailbox{"user", "example.test"};
    e.recipients.push_back(r);
    return e;
}

constexpr std::time_t kWhen = 1795463774;  // Mon, 23 Nov 2026 19:56:14 +0000

TEST(Received, Date) {
    EXPECT_EQ(format_rfc5322_date(kWhen), "Mon, 23 Nov 2026 19:56:14 +0000");
    EXPECT_EQ(format_rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
}

TEST(Received, PlainEsmtp) {
    EXPECT_EQ(build_received(envelope(), "mx.example.test", "0abc", kWhen),
              "Received: from client.example ([192.0.2.7])\r\n"
              "\tby mx.example.test (petrel) with ESMTP id 0abc\r\n"
              "\tfor <user@example.test>;\r\n"
              "\tMon, 23 Nov 2026 19:56:14 +0000\r\n");
}

TEST(Received, TlsAndAuth) {
    Envelope e = envelope();
    e.facts.tls = true;
    e.facts.tls_version = "TLSv1.3";
    e.facts.tls_cipher = "TLS_AES_256_GCM_SHA384";
    e.facts.auth_user = "someone";
    Recipient r2;
    r2.mailbox = Mailbox{"other", "example.test"};
    e.recipients.push_back(r2);
    const std::string h = build_received(e, "mx.example.test", "0abc", kWhen);
    EXPECT_EQ(h,
              "Received: from client.example ([192.0.2.7])\r\n"
              "\tby mx.example.test (petrel) with ESMTPSA id 0abc\r\n"
              "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384);\r\n"
              "\tMon, 23 Nov 2026 19:56:14 +0000\r\n");
    EXPECT_EQ(h.find("someone"), std::string::npos);  // the login is not disclosed
    EXPECT_EQ(h.find("for <"), std::string::npos);     // several recipients: none named
}

TEST(Received, Protocols) {
    SessionFacts f;
    EXPECT_EQ(received_protocol(f, false), "SMTP");
    f.esmtp = true;
    EXPECT_EQ(received_protocol(f, false), "ESMTP");
    f.tls = true;
    EXPECT_EQ(received_protocol(f, false), "ESMTPS");
    f.auth_user = "u";
    EXPECT_EQ(received_protocol(f, false), "ESMTPSA");
    EXPECT_EQ(received_protocol(f, true), "UTF8SMTPSA");
    f.tls = false;
    EXPECT_EQ(received_protocol(f, false), "ESMTPA");
    EXPECT_EQ(received_protocol(f, true), "UTF8SMTPA");
}

TEST(Received, HostileHelo) {
    Envelope e = envelope();
    e.facts.helo = "evil)\r\nX-Injected: yes (";
    const std::string h = build_received(e, "mx.example.test", "q", kWhen);
    EXPECT_EQ(h.find("\nX-Injected"), std::string::npos);  // no header of its own
    EXPECT_EQ(h.rfind("Received: from [192.0.2.7] ([192.0.2.7] helo=evilX-Injected:yes)\r\n", 0), 0u) << h;
    // Every line ends in CRLF; continuation lines start with a TAB; no bare CR/LF.
    size_t pos = 0;
    int lines = 0;
    while (pos < h.size()) {
        const size_t e2 = h.find("\r\n", pos);
        ASSERT_NE(e2, std::string::npos);
        const std::string line = h.substr(pos, e2 - pos);
        EXPECT_EQ(line.find('\r'), std::string::npos);
        EXPECT_EQ(line.find('\n'), std::string::npos);
        EXPECT_LE(line.size(), 998u);
        if (lines > 0) {
            EXPECT_EQ(line[0], '\t');
        }
        pos = e2 + 2;
        ++lines;
    }
}

TEST(Received, AddressLiteralHeloAndIpv6) {
    Envelope e = envelope();
    e.facts.helo = "[192.0.2.7]";
    e.facts.client_ip = "2001:db8::7";
    const std::string h = build_received(e, "mx.example.test", "q", kWhen);
    EXPECT_EQ(h.rfind("Received: from [192.0.2.7] ([IPv6:2001:db8::7])\r\n", 0), 0u) << h;
}

TEST(Received, HeloProtocol) {
    Envelope e = envelope();
    e.facts.esmtp = false;
    EXPECT_NE(build_received(e, "h", "q", kWhen).find("with SMTP id q"), std::string::npos);
}

TEST(Received, SanitizeHelo) {
    EXPECT_EQ(sanitize_helo("ok.example"), "ok.example");
    EXPECT_EQ(sanitize_helo("a b(c)\\d\x01"), "abcd");
    EXPECT_EQ(sanitize_helo(std::string(100, 'a')).size(), 64u);
}

}  // namespace
}  // namespace petrel::mail
