// Unit tests for mailauth/auth_results.h: the RFC 8601 value grammar, folding, injection
// resistance and §5 removal of forged fields.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailauth/auth_results.h"

namespace petrel::mailauth {
namespace {

// Every line of `field` (CRLF-separated) is at most 998 octets and the field ends in CRLF;
// CR and LF appear only as CRLF followed by TAB (a fold) or at the very end.
void expect_well_formed(const std::string& field) {
    ASSERT_GE(field.size(), 2u);
    EXPECT_EQ(field.substr(field.size() - 2), "\r\n");
    size_t start = 0;
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\r') {
            ASSERT_LT(i + 1, field.size());
            EXPECT_EQ(field[i + 1], '\n') << "bare CR at " << i;
            EXPECT_LE(i - start, 998u);
            if (i + 2 < field.size()) EXPECT_EQ(field[i + 2], '\t') << "unfolded line at " << i;
            start = i + 2;
            ++i;
        } else {
            EXPECT_NE(field[i], '\n') << "bare LF at " << i;
            auto c = static_cast<unsigned char>(field[i]);
            EXPECT_TRUE(c >= 0x20 || c == '\t') << "control " << int(c) << " at " << i;
        }
    }
}

// The field unfolded (RFC 5322 §2.2.3: CRLF before WSP removed).
std::string unfold(std::string s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && i + 2 < s.size() && s[i + 1] == '\n') {
            ++i;
            continue;
        }
        out += s[i];
    }
    return out;
}

TEST(AuthResultsToken, Rfc2045Tokens) {
    EXPECT_TRUE(is_token("pass"));
    EXPECT_TRUE(is_token("mx.example.test"));
    EXPECT_TRUE(is_token("a-b_c+d"));
    EXPECT_FALSE(is_token(""));
    for (const char* bad : {"a b", "a;b", "a=b", "a@b", "a/b", "a\"b", "a(b", "a)b", "a\\b", "a:b",
                            "a,b", "a<b", "a>b", "a[b", "a]b", "a?b", "a\tb", "a\x7f", "\xc3\xa9"}) {
        EXPECT_FALSE(is_token(bad)) << bad;
    }
}

TEST(AuthResultsValue, TokenOrQuotedString) {
    EXPECT_EQ(ar_value("pass"), "pass");
    EXPECT_EQ(ar_value("body hash mismatch"), "\"body hash mismatch\"");
    EXPECT_EQ(ar_value("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(ar_value(""), "\"\"");
    EXPECT_EQ(ar_value("ab/cd+="), "\"ab/cd+=\"");
}

TEST(AuthResultsValue, ControlsDroppedAndCut) {
    EXPECT_EQ(ar_value("a\r\nX-Evil: 1"), "\"aX-Evil: 1\"");
    EXPECT_EQ(ar_value(std::string("a\0b", 3)), "ab");
    EXPECT_EQ(ar_value("x\ty"), "xy");
    std::string long_value(1000, 'a');
    EXPECT_EQ(ar_value(long_value).size(), kMaxValue);
    // A cut never splits a UTF-8 sequence: 199 ASCII then a 2-octet character.
    std::string utf8 = std::string(199, 'a') + "\xc3\xa9" + "zz";
    std::string v = ar_value(utf8);
    EXPECT_EQ(v, std::string(199, 'a'));  // what is left is a token again
}

TEST(AuthResultsPvalue, AddressesAndDomainsBare) {
    EXPECT_EQ(ar_pvalue("user@example.com"), "user@example.com");
    EXPECT_EQ(ar_pvalue("first.last+tag@sub.example.com"), "first.last+tag@sub.example.com");
    EXPECT_EQ(ar_pvalue("@example.com"), "@example.com");
    EXPECT_EQ(ar_pvalue("example.com"), "example.com");
    EXPECT_EQ(ar_pvalue("\"quoted local\"@example.com"), "\"\\\"quoted local\\\"@example.com\"");
    EXPECT_EQ(ar_pvalue("a..b@example.com"), "\"a..b@example.com\"");
    EXPECT_EQ(ar_pvalue("user@exa mple.com"), "\"user@exa mple.com\"");
    EXPECT_EQ(ar_pvalue("[127.0.0.1]"), "\"[127.0.0.1]\"");
    EXPECT_EQ(ar_pvalue("user@example.com\r\nX: y"), "\"user@example.comX: y\"");
}

TEST(AuthResultsComment, Escaped) {
    EXPECT_EQ(ar_comment("p=reject dis=none"), "(p=reject dis=none)");
    EXPECT_EQ(ar_comment("a) b (c\\"), "(a\\) b \\(c\\\\)");
    EXPECT_EQ(ar_comment("x\r\ny"), "(xy)");
}

TEST(AuthResultsBuild, NoResult) {
    EXPECT_EQ(build_authentication_results("mx.example.test", {}),
              "Authentication-Results: mx.example.test; none\r\n");
}

TEST(AuthResultsBuild, TypicalField) {
    std::vector<ResultInfo> r = {
        {"spf", "pass", "", "", {{"smtp.mailfrom", "alice@example.com"}}},
        {"dkim", "pass", "", "", {{"header.d", "example.com"}, {"header.s", "sel1"},
                                   {"header.b", "AbCd/+9z"}}},
        {"dkim", "fail", "", "body hash mismatch", {{"header.d", "other.example"}}},
        {"dmarc", "pass", "p=reject dis=none", "", {{"header.from", "example.com"}}},
        {"arc", "none", "", "", {}},
    };
    std::string f = build_authentication_results("mx.example.test", r);
    expect_well_formed(f);
    EXPECT_EQ(f,
              "Authentication-Results: mx.example.test;\r\n"
              "\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
              "\tdkim=pass header.d=example.com header.s=sel1 header.b=\"AbCd/+9z\";\r\n"
              "\tdkim=fail reason=\"body hash mismatch\" header.d=other.example;\r\n"
              "\tdmarc=pass (p=reject dis=none) header.from=example.com;\r\n"
              "\tarc=none\r\n");
    EXPECT_EQ(authserv_id_of(f.substr(f.find(':') + 1)), "mx.example.test");
}

TEST(AuthResultsBuild, LongValuesFoldBetweenWords) {
    std::vector<ResultInfo> r = {{"dkim", "fail", std::string(300, 'c'), std::string(300, 'r'),
                                  {{"header.d", std::string(250, 'd') + ".example"},
                                   {"header.s", std::string(300, 's')},
                                   {"header.b", std::string(300, 'b')}}}};
    std::string f = build_authentication_results("mx.example.test", r);
    expect_well_formed(f);
    // Folding only replaced spaces: the unfolded text has every word.
    std::string u = unfold(f);
    EXPECT_NE(u.find("reason=" + std::string(kMaxValue, 'r')), std::string::npos);
    EXPECT_NE(u.find("(" + std::string(kMaxValue, 'c') + ")"), std::string::npos);
}

// Hostile d=/s=/b=/reason/comment/method values: no new field, no broken syntax.
TEST(AuthResultsBuild, NoInjection) {
    const std::vector<std::string> hostile = {
        "x\r\nX-Injected: yes",
        "x\nX-Injected: yes",
        "x\rX-Injected: yes",
        "x;dkim=pass",
        "x) dkim=pass (",
        "\"; dkim=pass header.d=\"",
        std::string("nul\0byte", 8),
        std::string(5000, '\n'),
        "\\",
        "(((",
    };
    for (const std::string& h : hostile) {
        std::vector<ResultInfo> r = {{"dkim", "fail", h, h, {{"header.d", h}, {"header.s", h}, {"header.b", h}}}};
        std::string f = build_authentication_results("mx.example.test", r);
        expect_well_formed(f);
        EXPECT_EQ(f.find("\nX-Injected"), std::string::npos) << f;
        // Exactly one method appears: a hostile value cannot add a resinfo (no bare ';').
        std::string u = unfold(f);
        size_t semis = 0;
        bool quoted = false, escaped = false;
        int depth = 0;
        for (char c : u) {
            if (escaped) { escaped = false; continue; }
            if (c == '\\') { escaped = true; continue; }
            if (depth == 0 && c == '"') quoted = !quoted;
            else if (!quoted && c == '(') ++depth;
            else if (!quoted && c == ')') --depth;
            else if (!quoted && depth == 0 && c == ';') ++semis;
        }
        EXPECT_EQ(semis, 1u) << u;  // only the one after the authserv-id
        EXPECT_FALSE(quoted) << u;
        EXPECT_EQ(depth, 0) << u;
    }
}

TEST(AuthResultsId, ParsesFirstValue) {
    EXPECT_EQ(authserv_id_of(" mx.example.test; spf=pass"), "mx.example.test");
    EXPECT_EQ(authserv_id_of(" (comment (nested)) mx.example.test 1; none"), "mx.example.test");
    EXPECT_EQ(authserv_id_of("\r\n\t\"mx.example.test\"; none"), "mx.example.test");
    EXPECT_EQ(authserv_id_of("MX.Example.Test;"), "MX.Example.Test");
    EXPECT_EQ(authserv_id_of("   "), "");
    EXPECT_EQ(authserv_id_of("(unclosed"), "");
}

TEST(AuthResultsForgery, RemovesOnlyOurId) {
    std::string msg =
        "Authentication-Results: mx.example.test; dkim=pass header.d=bank.example\r\n"
        "Received: from x\r\n"
        "authentication-results : MX.EXAMPLE.TEST;\r\n"
        "\tspf=pass smtp.mailfrom=a@bank.example\r\n"
        "Authentication-Results: other.example; spf=fail\r\n"
        "ARC-Authentication-Results: i=1; mx.example.test; spf=pass\r\n"
        "Authentication-Results: (c) \"mx.example.test\"; none\r\n"
        "Subject: hi\r\n"
        "\r\n"
        "Authentication-Results: mx.example.test; body text stays\r\n";
    EXPECT_EQ(remove_forged_results(msg, "mx.example.test"), 3u);
    EXPECT_EQ(msg,
              "Received: from x\r\n"
              "Authentication-Results: other.example; spf=fail\r\n"
              "ARC-Authentication-Results: i=1; mx.example.test; spf=pass\r\n"
              "Subject: hi\r\n"
              "\r\n"
              "Authentication-Results: mx.example.test; body text stays\r\n");
}

TEST(AuthResultsForgery, SubdomainOrPrefixIsNotOurs) {
    std::string msg =
        "Authentication-Results: mx.example.test.evil; none\r\n"
        "Authentication-Results: sub.mx.example.test; none\r\n"
        "\r\nbody\r\n";
    std::string before = msg;
    EXPECT_EQ(remove_forged_results(msg, "mx.example.test"), 0u);
    EXPECT_EQ(msg, before);
}

TEST(AuthResultsForgery, WorksOnUnparseableHeaderAndNoBody) {
    std::string msg =
        "a line without a colon\r\n"
        "Authentication-Results: mx.example.test; dkim=pass\r\n";
    EXPECT_EQ(remove_forged_results(msg, "mx.example.test"), 1u);
    EXPECT_EQ(msg, "a line without a colon\r\n");
    std::string none = "Subject: x\r\n\r\n";
    EXPECT_EQ(remove_forged_results(none, ""), 0u);
}

}  // namespace
}  // namespace petrel::mailauth
