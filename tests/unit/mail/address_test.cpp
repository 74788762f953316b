// mail::parse_path tables: RFC 5321 §4.1.2 syntax, address literals, SMTPUTF8, IDNA
// normalization, length limits, and the open-relay tricks (%, !, quoted @, source routes).
#include <gtest/gtest.h>

#include "mail/address.h"
#include "mail/domain.h"

namespace petrel::mail {
namespace {

struct PathCase {
    const char* name;
    std::string input;
    bool allow_null;
    bool utf8;
    AddressError error;
    std::string local;   // expected when ok and not null
    std::string domain;
    bool source_route = false;
};

std::vector<PathCase> path_cases() {
    const auto E = AddressError::None;
    return {
        {"simple", "<user@example.test>", false, false, E, "user", "example.test"},
        {"uppercase_domain", "<User@EXAMPLE.Test>", false, false, E, "User", "example.test"},
        {"null_reverse", "<>", true, false, E, "", ""},
        {"null_forward", "<>", false, false, AddressError::NullNotAllowed, "", ""},
        {"dots", "<first.last@sub.example.test>", false, false, E, "first.last", "sub.example.test"},
        {"atext_specials", "<a!#$%&'*+-/=?^_`{|}~z@x.test>", false, false, E, "a!#$%&'*+-/=?^_`{|}~z", "x.test"},
        {"percent_hack", "<user%other.test@example.test>", false, false, E, "user%other.test", "example.test"},
        {"bang_path_no_domain", "<host!user>", false, false, AddressError::Syntax, "", ""},
        {"bang_local", "<host!user@example.test>", false, false, E, "host!user", "example.test"},
        {"quoted_at", "<\"user@evil.test\"@example.test>", false, false, E, "\"user@evil.test\"", "example.test"},
        {"quoted_space", "<\"john doe\"@example.test>", false, false, E, "\"john doe\"", "example.test"},
        {"quoted_pair", "<\"a\\\"b\"@example.test>", false, false, E, "\"a\\\"b\"", "example.test"},
        {"quoted_gt", "<\"a>b\"@example.test>", false, false, E, "\"a>b\"", "example.test"},
        {"quoted_unterminated", "<\"abc@example.test>", false, false, AddressError::Syntax, "", ""},
        {"quoted_control", "<\"a\x01\"@example.test>", false, false, AddressError::Syntax, "", ""},
        {"source_route", "<@relay.test:user@example.test>", false, false, E, "user", "example.test", true},
        {"source_route_multi", "<@a.test,@b.test:user@evil.test>", false, false, E, "user", "evil.test", true},
        {"source_route_bad", "<@:user@example.test>", false, false, AddressError::Syntax, "", ""},
        {"source_route_bad_domain", "<@-x.test:user@example.test>", false, false, AddressError::BadDomain, "", ""},
        {"source_route_no_colon", "<@relay.test,user@example.test>", false, false, AddressError::Syntax, "", ""},
        {"ipv4_literal", "<u@[192.0.2.1]>", false, false, E, "u", "[192.0.2.1]"},
        {"ipv4_literal_bad", "<u@[192.0.2.256]>", false, false, AddressError::BadLiteral, "", ""},
        {"ipv4_literal_short", "<u@[192.0.2]>", false, false, AddressError::BadLiteral, "", ""},
        {"ipv4_literal_leading_zero", "<u@[192.0.2.01]>", false, false, AddressError::BadLiteral, "", ""},
        {"ipv6_literal", "<u@[IPv6:2001:DB8::1]>", false, false, E, "u", "[IPv6:2001:db8::1]"},
        {"ipv6_literal_lower_tag", "<u@[ipv6:::1]>", false, false, E, "u", "[IPv6:::1]"},
        {"ipv6_literal_full", "<u@[IPv6:1:2:3:4:5:6:7:8]>", false, false, E, "u", "[IPv6:1:2:3:4:5:6:7:8]"},
        {"ipv6_literal_v4", "<u@[IPv6:::ffff:192.0.2.1]>", false, false, E, "u", "[IPv6:::ffff:192.0.2.1]"},
        {"ipv6_literal_two_gaps", "<u@[IPv6:1::2::3]>", false, false, AddressError::BadLiteral, "", ""},
        {"ipv6_literal_too_many", "<u@[IPv6:1:2:3:4:5:6:7:8:9]>", false, false, AddressError::BadLiteral, "", ""},
        {"ipv6_without_tag", "<u@[2001:db8::1]>", false, false, AddressError::BadLiteral, "", ""},
        {"general_literal", "<u@[x-tag:stuff]>", false, false, AddressError::BadLiteral, "", ""},
        {"no_domain", "<user>", false, false, AddressError::Syntax, "", ""},
        {"empty_domain", "<user@>", false, false, AddressError::Syntax, "", ""},
        {"empty_local", "<@example.test>", false, false, AddressError::Syntax, "", ""},
        {"double_at", "<a@b@example.test>", false, false, AddressError::BadDomain, "", ""},
        {"leading_dot", "<.a@example.test>", false, false, AddressError::Syntax, "", ""},
        {"double_dot", "<a..b@example.test>", false, false, AddressError::Syntax, "", ""},
        {"trailing_dot_local", "<a.@example.test>", false, false, AddressError::Syntax, "", ""},
        {"space_local", "<a b@example.test>", false, false, AddressError::Syntax, "", ""},
        {"domain_underscore", "<a@ex_ample.test>", false, false, AddressError::BadDomain, "", ""},
        {"domain_hyphen_edge", "<a@-example.test>", false, false, AddressError::BadDomain, "", ""},
        {"domain_trailing_dot", "<a@example.test.>", false, false, AddressError::BadDomain, "", ""},
        {"no_brackets", "user@example.test", false, false, AddressError::Syntax, "", ""},
        {"unclosed", "<user@example.test", false, false, AddressError::Syntax, "", ""},
        {"utf8_local_without", "<j\xc3\xb6rg@example.test>", false, false, AddressError::Utf8NotAllowed, "", ""},
        {"utf8_local_with", "<j\xc3\xb6rg@example.test>", false, true, E, "j\xc3\xb6rg", "example.test"},
        {"utf8_domain_without", "<a@b\xc3\xbc" "cher.test>", false, false, AddressError::Utf8NotAllowed, "", ""},
        {"utf8_domain_idna", "<a@B\xc3\xbc" "cher.Test>", false, true, E, "a", "xn--bcher-kva.test"},
        {"utf8_nontransitional", "<a@fa\xc3\x9f.de>", false, true, E, "a", "xn--fa-hia.de"},
        {"utf8_invalid", "<a\xff@example.test>", false, true, AddressError::Syntax, "", ""},
        {"utf8_overlong", "<a\xc0\xaf@example.test>", false, true, AddressError::Syntax, "", ""},
        {"alabel_ok", "<a@XN--BCHER-KVA.test>", false, false, E, "a", "xn--bcher-kva.test"},
        {"alabel_bad", "<a@xn--zz.test>", false, false, AddressError::BadDomain, "", ""},
        {"idna_disallowed", "<a@\xe2\x92\x88.com>", false, true, AddressError::BadDomain, "", ""},
        {"local_64", "<" + std::string(64, 'a') + "@x.test>", false, false, E, std::string(64, 'a'), "x.test"},
        {"local_65", "<" + std::string(65, 'a') + "@x.test>", false, false, AddressError::LocalTooLong, "", ""},
        {"label_64", "<a@" + std::string(64, 'b') + ".test>", false, false, AddressError::BadDomain, "", ""},
        {"path_256", "<" + std::string(60, 'a') + "@" + std::string(61, 'b') + "." + std::string(61, 'c') + "." +
                         std::string(61, 'd') + "." + std::string(7, 'e') + ">",
         false, false, E, std::string(60, 'a'),
         std::string(61, 'b') + "." + std::string(61, 'c') + "." + std::string(61, 'd') + "." + std::string(7, 'e')},
        {"path_257", "<" + std::string(60, 'a') + "@" + std::string(61, 'b') + "." + std::string(61, 'c') + "." +
                         std::string(61, 'd') + "." + std::string(8, 'e') + ">",
         false, false, AddressError::PathTooLong, "", ""},
        {"path_huge_unclosed", "<" + std::string(5000, 'a'), false, false, AddressError::PathTooLong, "", ""},
    };
}

class PathTable : public ::testing::TestWithParam<PathCase> {};

TEST_P(PathTable, Parses) {
    const PathCase& c = GetParam();
    PathOptions o;
    o.allow_null = c.allow_null;
    o.allow_utf8 = c.utf8;
    const PathResult r = parse_path(c.input, o);
    EXPECT_EQ(r.error, c.error) << to_string(r.error);
    if (c.error != AddressError::None || r.error != AddressError::None) return;
    EXPECT_EQ(r.consumed, c.input.size());
    EXPECT_EQ(r.path.had_source_route, c.source_route);
    if (c.local.empty()) {
        EXPECT_FALSE(r.path.mailbox.has_value());
        return;
    }
    ASSERT_TRUE(r.path.mailbox.has_value());
    EXPECT_EQ(r.path.mailbox->local, c.local);
    EXPECT_EQ(r.path.mailbox->domain, c.domain);
}

INSTANTIATE_TEST_SUITE_P(Address, PathTable, ::testing::ValuesIn(path_cases()),
                         [](const ::testing::TestParamInfo<PathCase>& i) { return std::string(i.param.name); });

TEST(Address, ConsumedStopsAtClosingBracket) {
    const PathResult r = parse_path("<a@b.test> SIZE=10", PathOptions{});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.consumed, 10u);
}

TEST(Address, Postmaster) {
    PathOptions o;
    o.allow_postmaster = true;
    PathResult r = parse_path("<PostMaster>", o);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.path.bare_postmaster);
    EXPECT_EQ(r.path.mailbox->local, "PostMaster");
    EXPECT_EQ(parse_path("<PostMaster>", PathOptions{}).error, AddressError::Syntax);
}

TEST(Address, ParseMailbox) {
    auto m = parse_mailbox("x@Example.Test", false);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->str(), "x@example.test");
    EXPECT_TRUE(parse_mailbox("[1.2.3.4]", false) == std::nullopt);
    EXPECT_TRUE(parse_mailbox("x@[1.2.3.4]", false)->is_address_literal());
}

TEST(Domain, Normalization) {
    EXPECT_EQ(normalize_domain("Example.TEST", false).domain, "example.test");
    EXPECT_EQ(normalize_domain("b\xc3\xbc" "cher.test", true).domain, "xn--bcher-kva.test");
    EXPECT_EQ(normalize_domain("\xc3\x84" "B.test", true).domain, "xn--b-zfa.test");
    EXPECT_EQ(normalize_domain("b\xc3\xbc" "cher.test", false).error, DomainError::Utf8NotAllowed);
    EXPECT_EQ(normalize_domain(std::string(256, 'a'), false).error, DomainError::TooLong);
    EXPECT_EQ(normalize_domain("", false).error, DomainError::Syntax);
    EXPECT_EQ(normalize_domain("a..b", false).error, DomainError::Syntax);
    EXPECT_EQ(normalize_domain("1.2.3.4", false).domain, "1.2.3.4");  // syntactically a Domain
    EXPECT_EQ(normalize_domain(std::string("a\0b", 3), false).error, DomainError::Syntax);
}

TEST(Domain, Ipv4) {
    EXPECT_TRUE(is_ipv4_address("0.0.0.0"));
    EXPECT_TRUE(is_ipv4_address("255.255.255.255"));
    EXPECT_FALSE(is_ipv4_address("256.1.1.1"));
    EXPECT_FALSE(is_ipv4_address("1.1.1"));
    EXPECT_FALSE(is_ipv4_address("1.1.1.1.1"));
    EXPECT_FALSE(is_ipv4_address("1.1.1."));
    EXPECT_FALSE(is_ipv4_address("1..1.1"));
    EXPECT_FALSE(is_ipv4_address("1234.1.1.1"));
    EXPECT_FALSE(is_ipv4_address(""));
}

TEST(Domain, Ipv6) {
    for (const char* ok : {"::", "::1", "1::", "1:2:3:4:5:6:7:8", "fe80::1:2", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
                           "1::1.2.3.4", "abcd:ef01::"})
        EXPECT_TRUE(is_ipv6_address(ok)) << ok;
    for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", ":1::",
                            "1:", "g::1", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "1::2:"})
        EXPECT_FALSE(is_ipv6_address(bad)) << bad;
}

}  // namespace
}  // namespace petrel::mail
