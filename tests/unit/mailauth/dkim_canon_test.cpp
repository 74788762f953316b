// tests/unit/mailauth/dkim_canon_test.cpp — header parsing, tag lists and canonicalization
// (RFC 6376 §3.2, §3.4, §3.4.5 examples, §3.5 l=, §3.7 b= emptied, §5.4.2 oversigning).
#include <gtest/gtest.h>

#include <deque>

#include "mailauth/dkim/canonicalize.h"
#include "mailauth/dkim/hash_input.h"
#include "mailauth/dkim/signature.h"
#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {
namespace {

// RFC 6376 §3.4.5, as literal bytes (conformance/dkim/rfc/rfc6376-canonicalization.json).
const std::string kExample = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";

std::string headers_of(const ParsedMessage& m, Canon c) {
    std::string out;
    for (const auto& f : m.fields) out += canonicalize_header(f, c);
    return out;
}

TEST(DkimHeaderParser, KeepsRawBytesAndFolds) {
    std::string err;
    auto m = parse_message(kExample, err);
    ASSERT_TRUE(m) << err;
    ASSERT_EQ(m->fields.size(), 2u);
    EXPECT_EQ(m->fields[0].name, "A");
    EXPECT_EQ(m->fields[0].raw, "A: X\r\n");
    EXPECT_EQ(m->fields[1].name, "B");
    EXPECT_EQ(m->fields[1].value, " Y\t\r\n\tZ  ");
    EXPECT_EQ(m->fields[1].raw, "B : Y\t\r\n\tZ  \r\n");
    EXPECT_EQ(m->body, " C \r\nD \t E\r\n\r\n\r\n");
}

TEST(DkimHeaderParser, RejectsBadInput) {
    std::string err;
    EXPECT_FALSE(parse_message("  This is not a valid message.\r\n", err));
    EXPECT_EQ(err, "bad continuation");
    EXPECT_FALSE(parse_message("From: a\r\nno colon here\r\n\r\nbody", err));
    EXPECT_EQ(err, "bad header");
    EXPECT_FALSE(parse_message(": empty name\r\n\r\n", err));
    HeaderLimits small{2};
    EXPECT_FALSE(parse_message("A: 1\r\nB: 2\r\nC: 3\r\n\r\n", err, small));
}

TEST(DkimHeaderParser, NoBodyAndNoFinalCrlf) {
    std::string err;
    auto m = parse_message("Subject: x\r\nFrom: y", err);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->fields.size(), 2u);
    EXPECT_EQ(m->fields[1].value, " y");
    EXPECT_TRUE(m->body.empty());
}

TEST(DkimHeaderParser, ToCrlf) {
    EXPECT_EQ(to_crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
}

TEST(DkimCanon, Rfc6376Example1RelaxedRelaxed) {
    std::string err;
    auto m = parse_message(kExample, err);
    ASSERT_TRUE(m);
    EXPECT_EQ(headers_of(*m, Canon::Relaxed), "a:X\r\nb:Y Z\r\n");
    EXPECT_EQ(canonical_body(m->body, Canon::Relaxed), " C\r\nD E\r\n");
    EXPECT_EQ(base64_encode(body_hash(m->body, Canon::Relaxed, std::nullopt)),
              "unak6JHq0wL+Q1HP7dW1tjBx9FLA6DffoZ0qrLwbbpo=");
}

TEST(DkimCanon, Rfc6376Example2SimpleSimple) {
    std::string err;
    auto m = parse_message(kExample, err);
    ASSERT_TRUE(m);
    EXPECT_EQ(headers_of(*m, Canon::Simple), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
    EXPECT_EQ(canonical_body(m->body, Canon::Simple), " C \r\nD \t E\r\n");
    EXPECT_EQ(base64_encode(body_hash(m->body, Canon::Simple, std::nullopt)),
              "NOeivbQlDH9TmNKJUw7D53wZfsk8YMZ/hTuVVwTgi8s=");
}

TEST(DkimCanon, Rfc6376Example3RelaxedSimple) {
    std::string err;
    auto m = parse_message(kExample, err);
    ASSERT_TRUE(m);
    EXPECT_EQ(headers_of(*m, Canon::Relaxed), "a:X\r\nb:Y Z\r\n");
    EXPECT_EQ(canonical_body(m->body, Canon::Simple), " C \r\nD \t E\r\n");
}

TEST(DkimCanon, BodyTable) {
    struct Case {
        std::string in;
        Canon canon;
        std::string out;
    };
    const Case cases[] = {
        {"", Canon::Simple, "\r\n"},          // §3.4.3: empty body is one CRLF
        {"", Canon::Relaxed, ""},             // §3.4.4 + erratum 1384
        {"\r\n\r\n", Canon::Simple, "\r\n"},
        {"\r\n\r\n", Canon::Relaxed, ""},
        {"a", Canon::Simple, "a\r\n"},        // a CRLF is added
        {"a", Canon::Relaxed, "a\r\n"},
        {"a \t b \t\r\n", Canon::Relaxed, "a b\r\n"},
        {" \r\nx\r\n \t \r\n\r\n", Canon::Relaxed, "\r\nx\r\n"},  // WSP-only lines are empty
        {" \r\nx\r\n \t \r\n\r\n", Canon::Simple, " \r\nx\r\n \t \r\n"},
        {"a\r\n\r\nb\r\n\r\n", Canon::Simple, "a\r\n\r\nb\r\n"},  // inner empty lines stay
        {"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n", Canon::Relaxed,
         "Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(canonical_body(c.in, c.canon), c.out) << "in=" << c.in;
    }
    EXPECT_EQ(base64_encode(body_hash("", Canon::Simple, std::nullopt)),
              "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    EXPECT_EQ(base64_encode(body_hash("", Canon::Relaxed, std::nullopt)),
              "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    const std::string rfc8463 = "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
    EXPECT_EQ(base64_encode(body_hash(rfc8463, Canon::Relaxed, std::nullopt)),
              "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
    EXPECT_EQ(base64_encode(body_hash(rfc8463, Canon::Simple, std::nullopt)),
              "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=");
}

TEST(DkimCanon, BodyLengthLimitCountsCanonicalBytes) {
    std::string out;
    uint64_t whole = canonicalize_body("ab  c\r\n\r\nmore\r\n", Canon::Relaxed,
                                       [&](std::string_view s) { out.append(s); }, 5);
    EXPECT_EQ(out, "ab c\r");
    EXPECT_EQ(whole, std::string("ab c\r\n\r\nmore\r\n").size());
    EXPECT_EQ(canonical_body("x\r\n", Canon::Simple).size(), 3u);
}

TEST(DkimCanon, BodyEverySplitMatchesWhole) {
    // The sink may receive pieces of any size; what it gets in total must not depend on them.
    const std::string body = "a \t\r\n\r\n b\r\n \r\n\r\n";
    for (Canon c : {Canon::Simple, Canon::Relaxed}) {
        std::string whole = canonical_body(body, c);
        for (uint64_t l = 0; l <= whole.size(); ++l) {
            std::string part;
            canonicalize_body(body, c, [&](std::string_view s) { part.append(s); }, l);
            EXPECT_EQ(part, whole.substr(0, l));
        }
    }
}

TEST(DkimTagList, Grammar) {
    auto t = parse_tag_list(" v=1; a=rsa-sha256;\r\n\tb=ab\r\n cd ; x1 = extra ;");
    ASSERT_TRUE(t);
    ASSERT_EQ(t->size(), 4u);
    EXPECT_EQ((*t)[2].name, "b");
    EXPECT_EQ((*t)[2].value, "ab\r\n cd");
    EXPECT_EQ((*t)[3].name, "x1");
    EXPECT_EQ((*t)[3].value, "extra");
    EXPECT_TRUE(parse_tag_list(""));                 // an empty list
    EXPECT_TRUE(parse_tag_list("p="));               // an empty value
    EXPECT_FALSE(parse_tag_list("k=rsa; t; p=x"));   // a tag without "="
    EXPECT_FALSE(parse_tag_list("a=1; a=2"));        // duplicate (§3.2)
    EXPECT_FALSE(parse_tag_list("a=1;; b=2"));       // empty tag-spec
    EXPECT_FALSE(parse_tag_list("1a=1"));            // name must start with ALPHA
    EXPECT_FALSE(parse_tag_list("a=x\ny"));          // bare LF
    EXPECT_FALSE(parse_tag_list("a=x\r\ny"));        // CRLF not followed by WSP
}

HeaderField field(const std::string& raw) {
    std::string err;
    static std::deque<std::string> keep;  // views into it stay valid
    keep.push_back(raw + "\r\n\r\n");
    auto m = parse_message(keep.back(), err);
    return m->fields.at(0);
}

TEST(DkimSignatureTags, ParsesAndEmptiesB) {
    std::string err;
    auto s = parse_signature(field("DKIM-Signature: v=1; a=rsa-sha256; d=Example.COM; s=sel;\r\n"
                                   "  c=relaxed; h=From : To; bh=AAAA; l=10;\r\n b=QUJD\r\n REVG; t=5"),
                             err);
    ASSERT_TRUE(s) << err;
    EXPECT_EQ(s->domain, "example.com");
    EXPECT_EQ(s->header_canon, Canon::Relaxed);
    EXPECT_EQ(s->body_canon, Canon::Simple);  // "relaxed" alone is relaxed/simple (§3.5)
    EXPECT_EQ(s->headers, (std::vector<std::string>{"from", "to"}));
    EXPECT_EQ(s->signature, "ABCDEF");
    EXPECT_EQ(s->identity, "@example.com");
    EXPECT_EQ(*s->body_length, 10u);
    EXPECT_EQ(s->raw_without_b,
              "DKIM-Signature: v=1; a=rsa-sha256; d=Example.COM; s=sel;\r\n"
              "  c=relaxed; h=From : To; bh=AAAA; l=10;\r\n b=; t=5\r\n");
}

TEST(DkimSignatureTags, Errors) {
    const std::pair<const char*, const char*> cases[] = {
        {"v=2; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s", "unsupported version"},
        {"v=1; a=rsa-md5; b=QQ==; bh=QQ==; d=a.b; h=from; s=s", "unsupported algorithm"},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=to; s=s", "h= does not sign From"},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s; i=x@c.d", "i= not within d="},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s; i=x@xa.b", "i= not within d="},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s; c=future", "bad c="},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s; q=http", "unsupported q="},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s; t=10; x=5", "x= before t="},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from", "missing tag s="},
        {"v=1; a=rsa-sha256; b=Q!==; bh=QQ==; d=a.b; h=from; s=s", "bad b="},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a..b; h=from; s=s", "bad d="},
        {"v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s; l=-1", "bad l="},
    };
    for (const auto& [value, expected] : cases) {
        std::string err;
        EXPECT_FALSE(parse_signature(field(std::string("DKIM-Signature: ") + value), err)) << value;
        EXPECT_EQ(err, expected) << value;
    }
    std::string err;
    auto ok = parse_signature(
        field("DKIM-Signature: v=1; a=rsa-sha256; b=QQ==; bh=QQ==; d=a.b; h=from; s=s; i=j=40x@sub.A.b"), err);
    ASSERT_TRUE(ok) << err;
    EXPECT_EQ(ok->identity, "j@x@sub.A.b");
}

TEST(DkimHashInput, BottomUpSelectionAndOversigning) {
    std::string err;
    std::string msg = "From: first\r\nTo: t\r\nFrom: second\r\n\r\n";
    auto m = parse_message(msg, err);
    ASSERT_TRUE(m);
    // h=from:from:from: the bottom one, then the one above, then nothing (absent).
    std::string in = header_hash_input(m->fields, {"from", "from", "from"}, Canon::Relaxed,
                                       "DKIM-Signature: a=1; b=");
    EXPECT_EQ(in, "from:second\r\nfrom:first\r\ndkim-signature:a=1; b=");
    std::string simple = header_hash_input(m->fields, {"to"}, Canon::Simple, "DKIM-Signature: b=\r\n");
    EXPECT_EQ(simple, "To: t\r\nDKIM-Signature: b=");
}

TEST(DkimBase64, StrictWithFws) {
    EXPECT_EQ(*base64_decode("QU JD\r\n\tRA=="), "ABCD");
    EXPECT_FALSE(base64_decode("QQ=A"));
    EXPECT_FALSE(base64_decode("QQ"));
    EXPECT_EQ(base64_encode("ABCD"), "QUJDRA==");
}

}  // namespace
}  // namespace petrel::mailauth::dkim
