// tests/unit/mailauth/spf/spf_macro_test.cpp — SPF macro expansion against the examples of
// RFC 7208 §7.4, and the syntax rules of §7.1 (table-driven).
#include <gtest/gtest.h>

#include "mailauth/spf/macro.h"
#include "mailauth/spf/record.h"

namespace petrel::mailauth::spf {
namespace {

MacroValues rfc_values(const dns::IpAddress& ip) {
    MacroValues v;
    v.sender = "strong-bad@email.example.com";
    v.local_part = "strong-bad";
    v.sender_domain = "email.example.com";
    v.domain = "email.example.com";
    v.ip = ip;
    v.helo = "mx.example.org";
    v.receiver = "mx.example.net";
    v.validated_name = "mx.example.org";
    v.timestamp = 1234567890;
    return v;
}

TEST(SpfMacro, Rfc7208Section74Examples) {
    auto v = rfc_values(*parse_ip4("192.0.2.3"));
    const std::pair<const char*, const char*> cases[] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
        {"%{p}", "mx.example.org"},
        {"%%%_%-", "% %20"},
        {"%{L}", "strong-bad"},
        {"%{S}", "strong-bad%40email.example.com"},  // upper case: URL-escaped (§7.3)
    };
    for (const auto& [in, want] : cases) {
        EXPECT_TRUE(valid_macro_string(in, MacroMode::Domain)) << in;
        EXPECT_EQ(expand_macros(in, v, MacroMode::Domain).value_or("<error>"), want) << in;
    }
}

TEST(SpfMacro, Ipv6DotFormat) {
    auto v = rfc_values(*parse_ip6("2001:db8::cb01"));
    EXPECT_EQ(expand_macros("%{ir}.%{v}._spf.%{d2}", v, MacroMode::Domain).value_or(""),
              "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
    EXPECT_EQ(expand_macros("%{c}", v, MacroMode::Explanation).value_or(""), "2001:db8::cb01");
}

TEST(SpfMacro, ExplanationOnlyLetters) {
    auto v = rfc_values(*parse_ip4("192.0.2.3"));
    EXPECT_FALSE(valid_macro_string("%{c}", MacroMode::Domain));
    EXPECT_FALSE(valid_macro_string("%{r}", MacroMode::Domain));
    EXPECT_FALSE(valid_macro_string("%{t}", MacroMode::Domain));
    EXPECT_EQ(expand_macros("%{c} at %{r} %{t}", v, MacroMode::Explanation).value_or(""),
              "192.0.2.3 at mx.example.net 1234567890");
}

TEST(SpfMacro, SyntaxErrors) {
    for (const char* bad : {"%", "%(ir)", "foo%.bar", "%{a}", "%{d0}", "%{d", "%{dx}", "a b", "\x80",
                            "%{d2rr}"}) {
        EXPECT_FALSE(valid_macro_string(bad, MacroMode::Domain)) << bad;
    }
    EXPECT_TRUE(valid_macro_string("a b %{d}", MacroMode::Explanation));
}

TEST(SpfMacro, DomainSpecEnd) {
    for (const char* good : {"example.com", "example.com.", "%{d}", "foo.%{d2}", "a.b-1", "x.%%"}) {
        EXPECT_TRUE(valid_domain_spec(good)) << good;
    }
    for (const char* bad : {"", "foo-bar", "example.1", "foo.-a", "%{d}.", "%{d}x", "foo.com/"}) {
        EXPECT_FALSE(valid_domain_spec(bad)) << bad;
    }
}

TEST(SpfMacro, LongNamesLoseLeftLabels) {
    auto v = rfc_values(*parse_ip4("192.0.2.3"));
    std::string spec;
    for (int i = 0; i < 30; ++i) spec += "label" + std::to_string(i) + ".";
    spec += "%{d}.";
    auto name = expand_domain_spec(spec, v);
    ASSERT_TRUE(name);
    EXPECT_LE(name->size(), 253u);
    EXPECT_TRUE(name->ends_with(".email.example.com"));
    EXPECT_NE(name->front(), '.');
}

// What §7.3 asks for, computed on the whole expansion: labels dropped from the left.
std::string cut_left(std::string name) {
    if (!name.empty() && name.back() == '.') name.pop_back();
    std::string_view rest = name;
    while (rest.size() > 253 && rest.find('.') != std::string_view::npos) {
        rest.remove_prefix(rest.find('.') + 1);
    }
    return std::string(rest);
}

// A hostile record: thousands of %{S} over a long sender would expand to megabytes before the
// 253-character cut. The output is capped (macro.h, kMaxExpansion) and the name is the same.
TEST(SpfMacro, ExpansionOfAHostileRecordIsCapped) {
    auto v = rfc_values(*parse_ip4("192.0.2.3"));
    const std::string local(200, 'x');
    const std::string sender = local + "@email.example.com";
    v.sender = sender;
    v.local_part = local;
    std::string spec, full;
    for (int i = 0; i < 20000; ++i) {
        spec += "%{S}.";
        full += local + "%40email.example.com.";  // what each %{S}. expands to
    }
    spec += "%{d}";
    full += "email.example.com";
    ASSERT_GT(full.size(), 4u * 1024 * 1024);  // megabytes, uncapped

    auto out = expand_macros(spec, v, MacroMode::Domain);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->size(), kMaxExpansion);
    EXPECT_EQ(*out, full.substr(0, kMaxExpansion));  // the head, cut
    auto text = expand_macros(spec, v, MacroMode::Explanation);
    ASSERT_TRUE(text);
    EXPECT_EQ(text->size(), kMaxExpansion);

    auto name = expand_domain_spec(spec, v);
    ASSERT_TRUE(name);
    EXPECT_EQ(*name, cut_left(full));  // exactly what the uncapped expansion gives
    EXPECT_LE(name->size(), 253u);
    EXPECT_TRUE(name->ends_with(".email.example.com"));
}

// The tail kept while expanding a domain-spec must not change the name, wherever the trim
// falls relative to the labels: many short labels, long labels, a long last label.
TEST(SpfMacro, CappedDomainSpecMatchesTheUncappedCut) {
    auto v = rfc_values(*parse_ip4("192.0.2.3"));
    for (size_t label : {1u, 7u, 63u, 250u, 252u, 253u, 254u, 300u}) {
        const std::string local(label, 'a');
        v.local_part = local;
        std::string spec, full;
        for (size_t n = 0; full.size() < 3 * kMaxExpansion; ++n) {
            spec += "%{l}.";
            full += local + ".";
        }
        spec += "%{l}";
        full += local;
        auto name = expand_domain_spec(spec, v);
        ASSERT_TRUE(name) << label;
        EXPECT_EQ(*name, cut_left(full)) << label;
    }
}

TEST(SpfMacro, UsesP) {
    EXPECT_TRUE(uses_p_macro("%{p}.x"));
    EXPECT_TRUE(uses_p_macro("a.%{P2}"));
    EXPECT_FALSE(uses_p_macro("%%{p}"));
    EXPECT_FALSE(uses_p_macro("%{d}"));
}

TEST(SpfRecord, ParsesTermsAndModifiers) {
    auto p = parse_record("v=spf1 +a/24//64 -mx:%{d} ~ip4:192.0.2.0/24 ?ip6:2001:db8::/32 "
                          "include:_spf.example.com exists:%{i}.bl.example.com ptr all "
                          "redirect=example.net exp=exp.%{d} foo=bar");
    ASSERT_TRUE(p.record) << p.error;
    const auto& r = *p.record;
    ASSERT_EQ(r.mechanisms.size(), 8u);
    EXPECT_EQ(r.mechanisms[0].kind, MechanismKind::A);
    EXPECT_EQ(r.mechanisms[0].cidr4, 24);
    EXPECT_EQ(r.mechanisms[0].cidr6, 64);
    EXPECT_EQ(r.mechanisms[1].qualifier, Qualifier::Fail);
    EXPECT_EQ(r.mechanisms[1].domain_spec, "%{d}");
    EXPECT_EQ(r.mechanisms[2].network.to_string(), "192.0.2.0");
    EXPECT_EQ(r.mechanisms[3].cidr6, 32);
    EXPECT_EQ(r.redirect.value_or(""), "example.net");
    EXPECT_EQ(r.explanation.value_or(""), "exp.%{d}");
}

TEST(SpfRecord, SyntaxErrorsAreErrors) {
    for (const char* bad : {
             "v=spf1 moo", "v=spf1 -all:foo", "v=spf1 all/8", "v=spf1 ip4:1.2.3.4/33",
             "v=spf1 ip4:1.2.3.4/032", "v=spf1 ip4:01.2.3.4", "v=spf1 ip4:1.2.3.4//64",
             "v=spf1 ip6:::1//64", "v=spf1 ip6:::1/129", "v=spf1 ip6:zz::", "v=spf1 a/33",
             "v=spf1 a//129", "v=spf1 include", "v=spf1 exists", "v=spf1 a:", "v=spf1 ptr/24",
             "v=spf1 redirect=a.com redirect=b.com", "v=spf1 exp=a.com exp=b.com", "v=spf1 exp=",
             "v=spf1 =a", "v=spf1 a:foo.com\r", "v=spf1 a:\xef\xbb\xbf" "foo.com", "v=spf1 foo=%",
             "v=spf1 a:1.2.3.4", "v=spf1 redirect:example.com"}) {
        auto p = parse_record(bad);
        EXPECT_FALSE(p.record) << bad;
        EXPECT_FALSE(p.error.empty()) << bad;
    }
}

TEST(SpfRecord, Selection) {
    EXPECT_TRUE(is_spf_record("v=spf1"));
    EXPECT_TRUE(is_spf_record("V=SPF1 -all"));
    EXPECT_FALSE(is_spf_record("v=spf10"));
    EXPECT_FALSE(is_spf_record("v=spf1mx"));
    EXPECT_FALSE(is_spf_record(" v=spf1"));
}

}  // namespace
}  // namespace petrel::mailauth::spf
