// Unit tests of the session's parts: command parsing, SASL decoding, the DATA/BDAT readers.
#include <gtest/gtest.h>

#include "smtp/body_reader.h"
#include "smtp/command.h"
#include "smtp/sasl.h"

namespace petrel::smtp {
namespace {

TEST(Command, Parse) {
    Command c = parse_command("mail FROM:<a@b>  ");
    EXPECT_EQ(c.verb, Verb::Mail);
    EXPECT_EQ(c.name, "mail");
    EXPECT_EQ(c.arg, "FROM:<a@b>");
    EXPECT_EQ(parse_command("QUIT").verb, Verb::Quit);
    EXPECT_EQ(parse_command("StartTLS").verb, Verb::StartTls);
    EXPECT_EQ(parse_command("QUITX").verb, Verb::Unknown);
    EXPECT_EQ(parse_command("").verb, Verb::Unknown);
    EXPECT_EQ(parse_command("GET / HTTP/1.1").verb, Verb::Http);
    EXPECT_EQ(parse_command("host: x").verb, Verb::Http);
    EXPECT_EQ(parse_command("User-Agent: x").verb, Verb::Http);
    EXPECT_EQ(parse_command("HOST x").verb, Verb::Unknown);
    EXPECT_TRUE(starts_with_ci("from:<x>", "FROM:"));
    EXPECT_FALSE(starts_with_ci("fro", "FROM:"));
}

TEST(Sasl, Base64) {
    EXPECT_EQ(base64_decode(""), "");
    EXPECT_EQ(base64_decode("YQ=="), "a");
    EXPECT_EQ(base64_decode("YWI="), "ab");
    EXPECT_EQ(base64_decode("YWJj"), "abc");
    EXPECT_FALSE(base64_decode("YQ="));
    EXPECT_FALSE(base64_decode("YQ"));
    EXPECT_FALSE(base64_decode("Y==="));
    EXPECT_FALSE(base64_decode("YR=="));  // non-canonical padding bits
    EXPECT_FALSE(base64_decode("Y=Q="));
    EXPECT_FALSE(base64_decode("YW Jj"));
    EXPECT_FALSE(base64_decode("YQ==YQ=="));
    for (const std::string& s : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                                std::string("\0\xff\x10", 3)})
        EXPECT_EQ(base64_decode(base64_encode(s)), s);
}

TEST(Sasl, Plain) {
    auto m = parse_plain(std::string("authz\0user\0pass", 15));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->authzid, "authz");
    EXPECT_EQ(m->authcid, "user");
    EXPECT_EQ(m->password, "pass");
    EXPECT_TRUE(parse_plain(std::string("\0u\0p", 4)));
    EXPECT_FALSE(parse_plain(std::string("\0\0p", 3)));
    EXPECT_FALSE(parse_plain(std::string("\0u\0", 3)));
    EXPECT_FALSE(parse_plain("up"));
    EXPECT_FALSE(parse_plain(std::string("\0u\0p\0", 5)));
}

struct DotCase {
    std::string in;
    bool done;
    size_t consumed;
    std::string body;
    bool bare;
};

TEST(DotReader, Table) {
    const std::vector<DotCase> cases = {
        {".\r\n", true, 3, "", false},
        {"a\r\n.\r\nrest", true, 6, "a\r\n", false},
        {"a\r\n.\r", false, 5, "a\r\n", false},
        {"..\r\n.\r\n", true, 7, ".\r\n", false},
        {"a\n.\n", false, 4, "", true},
        {"a\r.\r", false, 4, "", true},
        {"a\r\n.\n", false, 5, "", true},
        {"a\n.\r\n", false, 5, "", true},
        {"a\r\n.x\r\n.\r\n", true, 10, "a\r\nx\r\n", false},
    };
    for (const auto& c : cases) {
        DotReader r(1000, 1000);
        EXPECT_EQ(r.consume(c.in), c.consumed) << c.in;
        EXPECT_EQ(r.done(), c.done) << c.in;
        EXPECT_EQ(r.flags().bare_cr_lf, c.bare) << c.in;
        if (!c.bare) {
            EXPECT_EQ(r.take_body(), c.body) << c.in;
        }
    }
}

TEST(DotReader, StopsStoringAfterError) {
    DotReader r(1000, 10);
    r.consume(std::string(100, 'x'));
    EXPECT_TRUE(r.flags().too_big);
    EXPECT_EQ(r.take_body(), "");
}

TEST(ChunkCollector, Checks) {
    ChunkCollector text(1000, 1000, false);
    text.add("a\r");
    text.add("\nb");
    text.finish();
    EXPECT_FALSE(text.flags().any());
    EXPECT_EQ(text.take_body(), "a\r\nb");
    ChunkCollector bad(1000, 1000, false);
    bad.add("a\nb");
    bad.finish();
    EXPECT_TRUE(bad.flags().bare_cr_lf);
    ChunkCollector bin(1000, 1000, true);
    bin.add("a\nb\r");
    bin.finish();
    EXPECT_FALSE(bin.flags().any());
    EXPECT_EQ(bin.size(), 4u);
}

}  // namespace
}  // namespace petrel::smtp
