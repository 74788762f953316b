// tests/unit/mailauth/dmarc/dmarc_record_test.cpp — the DMARC record parser (record.h):
// what counts as a DMARC record, each tag's good, bad and edge values, the §6.6.3 step 6 rule
// for an unusable p= with a valid rua=, unknown and duplicate tags, and the length bound.
#include <gtest/gtest.h>

#include <string>

#include "mailauth/dmarc/record.h"

namespace petrel::mailauth::dmarc {
namespace {

Record parse_ok(std::string_view text) {
    std::string error;
    auto r = parse_record(text, error);
    EXPECT_TRUE(r.has_value()) << text << ": " << error;
    return r.value_or(Record{});
}

std::string parse_error(std::string_view text) {
    std::string error;
    auto r = parse_record(text, error);
    EXPECT_FALSE(r.has_value()) << text;
    return error;
}

TEST(DmarcRecord, VersionTagDecidesWhatIsARecord) {
    const char* yes[] = {"v=DMARC1; p=none", "v=DMARC1;p=none", "v = DMARC1 ; p=none",
                         "v=DMARC1", "v=DMARC1;", "v=DMARC1\t;p=reject"};
    for (auto t : yes) EXPECT_TRUE(is_dmarc_record(t)) << t;
    const char* no[] = {"", "v=dmarc1; p=none", "V=DMARC1; p=none", "v=DMARC10; p=none",
                        "v=DMARC2; p=none", " v=DMARC1; p=none", "p=none; v=DMARC1",
                        "v=spf1 -all", "v=DMARC1 p=none", "v=DMARC1x"};
    for (auto t : no) EXPECT_FALSE(is_dmarc_record(t)) << t;
}

TEST(DmarcRecord, Policies) {
    EXPECT_EQ(parse_ok("v=DMARC1; p=none").policy, Policy::None);
    EXPECT_EQ(parse_ok("v=DMARC1; p=quarantine").policy, Policy::Quarantine);
    EXPECT_EQ(parse_ok("v=DMARC1; p=reject").policy, Policy::Reject);
    EXPECT_EQ(parse_ok("v=DMARC1; P = REJECT ").policy, Policy::Reject);  // ABNF strings: any case
    Record r = parse_ok("v=DMARC1; p=reject");
    EXPECT_EQ(r.subdomain_policy, Policy::Reject);  // sp defaults to p
    EXPECT_FALSE(r.has_subdomain_policy);
    r = parse_ok("v=DMARC1; p=reject; sp=none");
    EXPECT_EQ(r.policy, Policy::Reject);
    EXPECT_EQ(r.subdomain_policy, Policy::None);
    EXPECT_TRUE(r.has_subdomain_policy);
}

TEST(DmarcRecord, Defaults) {
    Record r = parse_ok("v=DMARC1; p=none");
    EXPECT_EQ(r.percent, 100u);
    EXPECT_EQ(r.dkim_alignment, Alignment::Relaxed);
    EXPECT_EQ(r.spf_alignment, Alignment::Relaxed);
    EXPECT_TRUE(r.rua.empty());
    EXPECT_TRUE(r.ruf.empty());
    EXPECT_EQ(r.failure_options, "0");
    EXPECT_EQ(r.report_format, "afrf");
    EXPECT_EQ(r.report_interval, 86400u);
    EXPECT_FALSE(r.policy_defaulted);
    EXPECT_TRUE(r.warnings.empty());
}

TEST(DmarcRecord, AllTags) {
    Record r = parse_ok(
        "v=DMARC1; p=quarantine; sp=reject; pct=25; adkim=s; aspf=s; "
        "rua=mailto:agg@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; "
        "fo=1:d; rf=afrf; ri=3600");
    EXPECT_EQ(r.policy, Policy::Quarantine);
    EXPECT_EQ(r.subdomain_policy, Policy::Reject);
    EXPECT_EQ(r.percent, 25u);
    EXPECT_EQ(r.dkim_alignment, Alignment::Strict);
    EXPECT_EQ(r.spf_alignment, Alignment::Strict);
    ASSERT_EQ(r.rua.size(), 2u);
    EXPECT_EQ(r.rua[0], "mailto:agg@example.com");
    EXPECT_EQ(r.rua[1], "mailto:b@example.net!10m");
    ASSERT_EQ(r.ruf.size(), 1u);
    EXPECT_EQ(r.failure_options, "1:d");
    EXPECT_EQ(r.report_format, "afrf");
    EXPECT_EQ(r.report_interval, 3600u);
    EXPECT_TRUE(r.warnings.empty());
}

TEST(DmarcRecord, PctRange) {
    EXPECT_EQ(parse_ok("v=DMARC1; p=reject; pct=0").percent, 0u);
    EXPECT_EQ(parse_ok("v=DMARC1; p=reject; pct=100").percent, 100u);
    EXPECT_EQ(parse_ok("v=DMARC1; p=reject; pct=007").percent, 7u);
    // §6.3: syntax errors outside v and p fall back to the default (100).
    for (auto bad : {"pct=101", "pct=-1", "pct=", "pct=50%", "pct=1000", "pct=abc", "pct=5 0"}) {
        Record r = parse_ok(std::string("v=DMARC1; p=reject; ") + bad);
        EXPECT_EQ(r.percent, 100u) << bad;
        EXPECT_FALSE(r.warnings.empty()) << bad;
    }
}

TEST(DmarcRecord, BadOptionalValuesFallBackToDefaults) {
    Record r = parse_ok("v=DMARC1; p=reject; adkim=x; aspf=strict; fo=2; rf=; ri=soon");
    EXPECT_EQ(r.dkim_alignment, Alignment::Relaxed);
    EXPECT_EQ(r.spf_alignment, Alignment::Relaxed);
    EXPECT_EQ(r.failure_options, "0");
    EXPECT_EQ(r.report_format, "afrf");
    EXPECT_EQ(r.report_interval, 86400u);
    EXPECT_EQ(r.warnings.size(), 5u);
}

TEST(DmarcRecord, UnknownTagsAndEmptySpecsIgnored) {
    Record r = parse_ok("v=DMARC1;;p=reject; ;x-future=1; np=none; psd=n;");
    EXPECT_EQ(r.policy, Policy::Reject);
    EXPECT_TRUE(r.warnings.empty());
    r = parse_ok("v=DMARC1; p=reject; garbage");
    EXPECT_EQ(r.policy, Policy::Reject);
    EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(DmarcRecord, DuplicateTagKeepsTheFirst) {
    Record r = parse_ok("v=DMARC1; p=none; p=reject; pct=10; PCT=90");
    EXPECT_EQ(r.policy, Policy::None);
    EXPECT_EQ(r.percent, 10u);
    EXPECT_EQ(r.warnings.size(), 2u);
}

TEST(DmarcRecord, MissingOrInvalidPolicyWithoutRuaIsUnusable) {
    EXPECT_EQ(parse_error("v=DMARC1"), "p= missing");
    EXPECT_EQ(parse_error("v=DMARC1; pct=50"), "p= missing");
    EXPECT_EQ(parse_error("v=DMARC1; p=block"), "invalid p=");
    EXPECT_EQ(parse_error("v=DMARC1; p="), "invalid p=");
    EXPECT_EQ(parse_error("v=DMARC1; p=reject; sp=deny"), "invalid sp=");
    EXPECT_EQ(parse_error("v=DMARC1; p=block; rua=not a uri"), "invalid p=");
    EXPECT_EQ(parse_error("v=DMARC1; p=block; rua=example.com"), "invalid p=");
    EXPECT_EQ(parse_error("v=spf1 -all"), "not a DMARC1 record");
}

TEST(DmarcRecord, MissingOrInvalidPolicyWithValidRuaActsAsNone) {
    for (auto t : {"v=DMARC1; rua=mailto:d@example.com", "v=DMARC1; p=block; rua=mailto:d@example.com",
                   "v=DMARC1; p=reject; sp=deny; rua=mailto:d@example.com",
                   "v=DMARC1; p=x; rua=bad uri, https://r.example/dmarc"}) {
        Record r = parse_ok(t);
        EXPECT_EQ(r.policy, Policy::None) << t;
        EXPECT_EQ(r.subdomain_policy, Policy::None) << t;
        EXPECT_TRUE(r.policy_defaulted) << t;
    }
}

TEST(DmarcRecord, ReportUris) {
    Record r = parse_ok("v=DMARC1; p=none; rua=mailto:a@example.com!10, mailto:b@example.com!5k,bad,mailto:c@x!");
    ASSERT_EQ(r.rua.size(), 2u);
    EXPECT_EQ(r.warnings.size(), 2u);  // "bad" and the empty size after '!'
    std::string many = "v=DMARC1; p=none; rua=";
    for (int i = 0; i < 40; ++i) many += "mailto:r" + std::to_string(i) + "@example.com,";
    many += "mailto:last@example.com";
    EXPECT_EQ(parse_ok(many).rua.size(), kMaxReportUris);
}

TEST(DmarcRecord, LengthBound) {
    std::string big = "v=DMARC1; p=reject; x=" + std::string(kMaxRecordLength, 'a');
    EXPECT_EQ(parse_error(big), "record too long");
    std::string fits = "v=DMARC1; p=reject; x=";
    fits += std::string(kMaxRecordLength - fits.size(), 'a');
    EXPECT_EQ(parse_ok(fits).policy, Policy::Reject);
}

TEST(DmarcRecord, HostileBytesDoNotBreakParsing) {
    std::string t = "v=DMARC1; p=reject; ";
    t += std::string("\0\xff\r\n=;;==", 10);
    EXPECT_EQ(parse_ok(t).policy, Policy::Reject);
}

TEST(DmarcRecord, ToString) {
    EXPECT_STREQ(to_string(Policy::None), "none");
    EXPECT_STREQ(to_string(Policy::Quarantine), "quarantine");
    EXPECT_STREQ(to_string(Policy::Reject), "reject");
    EXPECT_STREQ(to_string(Alignment::Strict), "s");
    EXPECT_STREQ(to_string(Alignment::Relaxed), "r");
}

}  // namespace
}  // namespace petrel::mailauth::dmarc
