// xtext (RFC 3461 §4) and ESMTP parameter lists (RFC 5321 §4.1.2).
#include <gtest/gtest.h>

#include "mail/esmtp_params.h"
#include "mail/xtext.h"

namespace petrel::mail {
namespace {

TEST(Xtext, Decode) {
    EXPECT_EQ(xtext_decode("abc"), "abc");
    EXPECT_EQ(xtext_decode(""), "");
    EXPECT_EQ(xtext_decode("a+2Bb"), "a+b");
    EXPECT_EQ(xtext_decode("user+40example.test"), "user@example.test");
    EXPECT_EQ(xtext_decode("+3D"), "=");
    EXPECT_FALSE(xtext_decode("a+2b"));  // lower-case hex is not xtext
    EXPECT_FALSE(xtext_decode("a+2"));
    EXPECT_FALSE(xtext_decode("a+"));
    EXPECT_FALSE(xtext_decode("a=b"));
    EXPECT_FALSE(xtext_decode("a b"));
    EXPECT_FALSE(xtext_decode("a\x01"));
    EXPECT_FALSE(xtext_decode("caf\xc3\xa9"));
}

TEST(Xtext, RoundTrip) {
    const std::string raw = std::string("a+b=c d\x01\xff", 9);
    EXPECT_EQ(xtext_decode(xtext_encode(raw)), raw);
    EXPECT_EQ(xtext_encode("a+b"), "a+2Bb");
}

TEST(EsmtpParams, Parses) {
    auto r = parse_esmtp_params(" SIZE=100 body=8BITMIME SMTPUTF8", false);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.params.size(), 3u);
    EXPECT_EQ(r.params[0].keyword, "SIZE");
    EXPECT_EQ(r.params[0].value, "100");
    EXPECT_EQ(r.params[1].keyword, "BODY");
    EXPECT_EQ(r.params[1].value, "8BITMIME");
    EXPECT_EQ(r.params[2].keyword, "SMTPUTF8");
    EXPECT_FALSE(r.params[2].value.has_value());
}

TEST(EsmtpParams, Empty) {
    EXPECT_TRUE(parse_esmtp_params("", false).ok());
    EXPECT_TRUE(parse_esmtp_params("   ", false).ok());
    EXPECT_TRUE(parse_esmtp_params("", false).params.empty());
}

TEST(EsmtpParams, Errors) {
    EXPECT_EQ(parse_esmtp_params("SIZE=1", false).error, ParamError::Syntax);  // no SP after '>'
    EXPECT_EQ(parse_esmtp_params(" =1", false).error, ParamError::Syntax);
    EXPECT_EQ(parse_esmtp_params(" -X=1", false).error, ParamError::Syntax);
    EXPECT_EQ(parse_esmtp_params(" SIZE=", false).error, ParamError::Syntax);
    EXPECT_EQ(parse_esmtp_params(" A_B=1", false).error, ParamError::Syntax);
    EXPECT_EQ(parse_esmtp_params(" A=b=c", false).error, ParamError::Syntax);  // '=' not in esmtp-value
    EXPECT_EQ(parse_esmtp_params(" A=\x01", false).error, ParamError::Syntax);
    EXPECT_EQ(parse_esmtp_params(" A=caf\xc3\xa9", false).error, ParamError::Syntax);
    EXPECT_TRUE(parse_esmtp_params(" A=caf\xc3\xa9", true).ok());
    EXPECT_EQ(parse_esmtp_params(" A=\xff", true).error, ParamError::Syntax);
    EXPECT_EQ(parse_esmtp_params(" SIZE=1 size=2", false).error, ParamError::Duplicate);
    std::string many;
    for (int i = 0; i < 17; ++i) many += " K" + std::to_string(i);
    EXPECT_EQ(parse_esmtp_params(many, false).error, ParamError::Syntax);
}

}  // namespace
}  // namespace petrel::mail
