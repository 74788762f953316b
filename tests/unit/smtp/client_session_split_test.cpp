// Every-split tests of smtp::ClientSession: the server's byte stream fed whole, byte by byte,
// cut at every single position and at pairs of positions must give the same client bytes,
// results and failures. How TCP segments the server's replies must not matter.
#include <gtest/gtest.h>

#include <random>

#include "client_harness.h"

namespace petrel::smtp::testing {
namespace {

// The server's stream in phases: the client sends the second transaction after the first
// phase and QUIT after the second (a server cannot answer what was not sent yet).
struct Scenario {
    std::string name;
    std::vector<std::string> phases;
};

std::vector<Scenario> scenarios() {
    const std::string g = "220-mx.remote.test ESMTP\r\n220 second greeting line\r\n";
    return {
        {"pipelined, mixed, reuse",
         {g + "250-mx\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-DSN\r\n250 8BITMIME\r\n"
              "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n250 2.1.5 ok\r\n354 go\r\n"
              "250 2.0.0 one\r\n",
          "250 2.0.0 reset\r\n250 2.1.0 ok\r\n451 4.7.1 later\r\n250 2.1.5 ok\r\n354 go\r\n554 5.7.1 no\r\n",
          "221 2.0.0 bye\r\n"}},
        {"one at a time, bare LF replies, HELO fallback",
         {g + "500 5.5.2 EHLO?\n250 mx\n250 ok\n250 ok\n250 ok\n250 ok\n354 go\n250 ok\n",
          "250 ok\n250 ok\n250 ok\n250 ok\n354 go\n250 ok\n", "221 bye\n"}},
        {"421 in the middle", {g + "250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n421 4.3.2 bye now\r\n"}},
        {"malformed in the middle", {g + "250-mx\r\n250 PIPELINING\r\n250 ok\r\n250-ok\r\n251 no\r\n"}},
    };
}

struct Transcript {
    std::string wire;
    std::string results;
    std::string failures;
    bool operator==(const Transcript&) const = default;
};

// Feeds every phase, phase `cut_phase` cut at `cuts`, the others whole.
Transcript run(const Scenario& sc, size_t cut_phase = 0, const std::vector<size_t>& cuts = {}) {
    ClientHarness h;
    h.cfg.limits.body_slice = 7;
    h.start();
    h.send(make_txn("a@b.test", {"c@d.test", "x@d.test", "y@d.test"}, ".hi\nthere\r\n"));
    for (size_t p = 0; p < sc.phases.size(); ++p) {
        const std::string& server = sc.phases[p];
        size_t prev = 0;
        if (p == cut_phase) {
            for (size_t c : cuts) {
                h.feed(std::string_view(server).substr(prev, c - prev));
                prev = c;
            }
        }
        h.feed(std::string_view(server).substr(prev));
        if (h.session->ready() && h.results.size() == 1) h.send(make_txn("p@b.test", {"q@d.test", "r@d.test"}, "2\n"));
        else if (h.session->ready() && h.results.size() == 2) h.quit();
    }
    Transcript r{h.wire, "", ""};
    for (const auto& x : h.results) r.results += summary(x) + "/";
    for (const auto& f : h.failures) r.failures += std::to_string(f.reply.code) + " " + f.stage + "/";
    return r;
}

TEST(ClientSplit, EveryCutGivesTheSameTranscript) {
    for (const auto& sc : scenarios()) {
        const Transcript whole = run(sc);
        EXPECT_FALSE(whole.results.empty()) << sc.name;
        for (size_t p = 0; p < sc.phases.size(); ++p) {
            const size_t n = sc.phases[p].size();
            std::vector<size_t> bytes;
            for (size_t i = 1; i < n; ++i) bytes.push_back(i);
            EXPECT_EQ(run(sc, p, bytes), whole) << sc.name << " phase " << p << " byte by byte";
            for (size_t i = 1; i < n; ++i) ASSERT_EQ(run(sc, p, {i}), whole) << sc.name << " phase " << p << " cut " << i;
            std::mt19937 rng(42);
            for (int k = 0; k < 100 && n > 2; ++k) {
                size_t a = 1 + rng() % (n - 1), b = 1 + rng() % (n - 1);
                if (a > b) std::swap(a, b);
                std::vector<size_t> cuts{a};
                if (b != a) cuts.push_back(b);
                ASSERT_EQ(run(sc, p, cuts), whole) << sc.name << " phase " << p << " cuts " << a << "," << b;
            }
        }
    }
}

TEST(ClientSplit, ScenariosMeanWhatTheySay) {
    const auto sc = scenarios();
    const Transcript a = run(sc[0]);
    EXPECT_EQ(a.results,
              "D 250 2.0.0 end of data|F 550 5.1.1 RCPT TO|D 250 2.0.0 end of data/"
              "T 451 4.7.1 RCPT TO|F 554 5.7.1 end of data/");
    EXPECT_NE(a.wire.find("RSET\r\nMAIL FROM:<p@b.test> SIZE=2\r\n"), std::string::npos);
    EXPECT_NE(a.wire.find("DATA\r\n..hi\r\nthere\r\n.\r\n"), std::string::npos);
    EXPECT_EQ(a.failures, "");
    EXPECT_EQ(a.wire.substr(a.wire.size() - 13), "QUIT\r\n[CLOSE]");
    const Transcript b = run(sc[1]);
    EXPECT_NE(b.wire.find("HELO client.test\r\n"), std::string::npos);
    EXPECT_EQ(b.results, "D 250 end of data|D 250 end of data|D 250 end of data/D 250 end of data|D 250 end of data/");
    const Transcript c = run(sc[2]);
    EXPECT_EQ(c.failures, "421 RCPT TO/");
    EXPECT_EQ(c.results, "T 421 4.3.2 RCPT TO|T 421 4.3.2 RCPT TO|T 421 4.3.2 RCPT TO/");
    const Transcript d = run(sc[3]);
    EXPECT_EQ(d.failures, "451 RCPT TO/");
}

}  // namespace
}  // namespace petrel::smtp::testing
