// Unit tests for policy::RelayPolicy: no open relay (RFC 5321 §3.9, §7.1; STANDARDS.md).
#include <gtest/gtest.h>

#include "config/config.h"
#include "policy/relay_policy.h"

namespace petrel::policy {
namespace {

config::Config strict_config() {
    config::Config c = config::default_config();
    c.delivery_mode = config::DeliveryMode::Mx;
    c.domains.local = {"example.test", "xn--bcher-kva.test"};
    c.domains.relay = {"partner.test"};
    return c;
}

mail::SessionFacts facts(const char* listener, const char* user = "") {
    mail::SessionFacts f;
    f.listener = listener;
    f.client_ip = "192.0.2.7";
    f.auth_user = user;
    return f;
}

struct RcptCase {
    const char* name;
    const char* listener;
    const char* auth_user;
    const char* local;
    const char* domain;
    int code;  // 0: accepted
    const char* enhanced;
};

const RcptCase kStrict[] = {
    {"LocalDomain", "mx", "", "alice", "example.test", 0, ""},
    {"IdnLocalDomain", "mx", "", "alice", "xn--bcher-kva.test", 0, ""},
    {"RelayDomain", "mx", "", "bob", "partner.test", 0, ""},
    {"QuotedLocalServed", "mx", "", "\"john doe\"", "example.test", 0, ""},
    {"BarePostmaster", "mx", "", "Postmaster", "", 0, ""},
    {"ForeignDomain", "mx", "", "victim", "elsewhere.test", 550, "5.7.1"},
    {"SubdomainOfServed", "mx", "", "victim", "sub.example.test", 550, "5.7.1"},
    {"SuffixOfServed", "mx", "", "victim", "badexample.test", 550, "5.7.1"},
    {"QuotedLocalForeign", "mx", "", "\"john doe\"", "elsewhere.test", 550, "5.7.1"},
    {"PercentHack", "mx", "", "victim%elsewhere.test", "example.test", 550, "5.7.1"},
    {"QuotedPercentHack", "mx", "", "\"victim%elsewhere.test\"", "example.test", 550, "5.7.1"},
    {"BangPath", "mx", "", "elsewhere.test!victim", "example.test", 550, "5.7.1"},
    {"QuotedBangPath", "mx", "", "\"elsewhere.test!victim\"", "example.test", 550, "5.7.1"},
    {"QuotedAt", "mx", "", "\"victim@elsewhere.test\"", "example.test", 550, "5.7.1"},
    {"SourceRouteLeftover", "mx", "", "@elsewhere.test:victim", "example.test", 550, "5.7.1"},
    {"AddressLiteral", "mx", "", "victim", "[192.0.2.1]", 550, "5.7.1"},
    {"Ipv6Literal", "mx", "", "victim", "[IPv6:2001:db8::1]", 550, "5.7.1"},
    {"NoDomain", "mx", "", "victim", "", 550, "5.7.1"},
    {"AuthenticatedAnywhere", "mx", "app1", "victim", "elsewhere.test", 0, ""},
    {"SubmissionAuthenticated", "submission", "app1", "someone", "elsewhere.test", 0, ""},
    {"SubmissionsAuthenticated", "submissions", "app1", "someone", "elsewhere.test", 0, ""},
    {"SubmissionAuthLiteral", "submission", "app1", "someone", "[192.0.2.1]", 0, ""},
    {"SubmissionUnauthenticated", "submission", "", "alice", "example.test", 530, "5.7.0"},
    {"SubmissionsUnauthenticated", "submissions", "", "someone", "elsewhere.test", 530, "5.7.0"},
};

class RelayStrict : public ::testing::TestWithParam<RcptCase> {};

void expect_decision(RelayPolicy& policy, const RcptCase& c) {
    auto reply = policy.check_rcpt(facts(c.listener, c.auth_user), mail::Mailbox{"s", "sender.test"},
                                   mail::Mailbox{c.local, c.domain});
    if (c.code == 0) {
        EXPECT_FALSE(reply.has_value()) << reply->to_wire();
    } else {
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->code, c.code);
        EXPECT_EQ(reply->enhanced, c.enhanced);
        // Generic text: never names the configuration.
        for (const auto& line : reply->lines) {
            EXPECT_EQ(line.find("example.test"), std::string::npos);
            EXPECT_EQ(line.find("partner.test"), std::string::npos);
        }
    }
}

TEST_P(RelayStrict, Decides) {
    RelayPolicy policy(strict_config());
    expect_decision(policy, GetParam());
}

INSTANTIATE_TEST_SUITE_P(All, RelayStrict, ::testing::ValuesIn(kStrict),
                         [](const auto& info) { return std::string(info.param.name); });

// Smarthost mode is just as strict as mx.
TEST(RelayPolicy, SmarthostIsStrict) {
    config::Config c = strict_config();
    c.delivery_mode = config::DeliveryMode::Smarthost;
    RelayPolicy policy(c);
    auto reply = policy.check_rcpt(facts("mx"), std::nullopt, mail::Mailbox{"v", "elsewhere.test"});
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->code, 550);
}

// Sandbox captures any domain on mx (nothing is ever delivered), but the routing tricks and
// address literals are still refused and submission still needs AUTH.
const RcptCase kSandbox[] = {
    {"AnyDomain", "mx", "", "someone", "elsewhere.test", 0, ""},
    {"Served", "mx", "", "alice", "example.test", 0, ""},
    {"PercentHack", "mx", "", "victim%elsewhere.test", "example.test", 550, "5.7.1"},
    {"BangPath", "mx", "", "elsewhere.test!victim", "example.test", 550, "5.7.1"},
    {"AddressLiteral", "mx", "", "victim", "[192.0.2.1]", 550, "5.7.1"},
    {"SubmissionUnauthenticated", "submission", "", "alice", "example.test", 530, "5.7.0"},
};

class RelaySandbox : public ::testing::TestWithParam<RcptCase> {};

TEST_P(RelaySandbox, Decides) {
    const RcptCase& c = GetParam();
    config::Config cfg = strict_config();
    cfg.delivery_mode = config::DeliveryMode::Sandbox;
    RelayPolicy policy(cfg);
    auto reply = policy.check_rcpt(facts(c.listener, c.auth_user), std::nullopt,
                                   mail::Mailbox{c.local, c.domain});
    if (c.code == 0) {
        EXPECT_FALSE(reply.has_value());
    } else {
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->code, c.code);
        EXPECT_EQ(reply->enhanced, c.enhanced);
    }
}

INSTANTIATE_TEST_SUITE_P(All, RelaySandbox, ::testing::ValuesIn(kSandbox),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RelayPolicy, MailFrom) {
    RelayPolicy policy(strict_config());
    mail::Mailbox sender{"s", "elsewhere.test"};
    EXPECT_FALSE(policy.check_mail(facts("mx"), sender));
    EXPECT_FALSE(policy.check_mail(facts("mx"), std::nullopt));  // the null reverse-path
    EXPECT_FALSE(policy.check_mail(facts("submission", "app1"), sender));
    auto r = policy.check_mail(facts("submission"), sender);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 530);
    EXPECT_EQ(r->enhanced, "5.7.0");
}

TEST(RelayPolicy, Serves) {
    RelayPolicy policy(strict_config());
    EXPECT_TRUE(policy.serves("example.test"));
    EXPECT_TRUE(policy.serves("partner.test"));
    EXPECT_FALSE(policy.serves("Example.test"));  // callers pass normalized domains
    EXPECT_FALSE(policy.serves("elsewhere.test"));
}

// With a LocalRecipients table (policy/local_recipients.h), an unknown user of a local domain
// is refused at RCPT with 550 5.1.1 on every listener; relay decisions are unchanged.
config::Config with_local_users() {
    config::Config c = strict_config();
    c.local.users = {"alice", "bob"};
    c.local.aliases = {{"info", "bob"}, {"sales", "ghost"}};
    return c;
}

const RcptCase kWithLocal[] = {
    {"KnownUser", "mx", "", "alice", "example.test", 0, ""},
    {"KnownUserOtherLocalDomain", "mx", "", "BOB", "xn--bcher-kva.test", 0, ""},
    {"Alias", "mx", "", "info", "example.test", 0, ""},
    {"Postmaster", "mx", "", "postmaster", "example.test", 0, ""},
    {"BarePostmaster", "mx", "", "Postmaster", "", 0, ""},
    {"UnknownUser", "mx", "", "carol", "example.test", 550, "5.1.1"},
    {"DanglingAlias", "mx", "", "sales", "example.test", 550, "5.1.1"},
    {"DotDot", "mx", "", "\"../alice\"", "example.test", 550, "5.1.1"},
    {"RelayDomainUnchecked", "mx", "", "carol", "partner.test", 0, ""},
    {"ForeignStill571", "mx", "", "carol", "elsewhere.test", 550, "5.7.1"},
    {"PercentHackStill571", "mx", "", "alice%elsewhere.test", "example.test", 550, "5.7.1"},
    {"SubmissionUnknownLocal", "submission", "app1", "carol", "example.test", 550, "5.1.1"},
    {"SubmissionKnownLocal", "submission", "app1", "alice", "example.test", 0, ""},
    {"SubmissionRemote", "submission", "app1", "carol", "elsewhere.test", 0, ""},
    {"SubmissionUnauthenticated", "submission", "", "alice", "example.test", 530, "5.7.0"},
};

class RelayWithLocal : public ::testing::TestWithParam<RcptCase> {};

TEST_P(RelayWithLocal, Decides) {
    config::Config cfg = with_local_users();
    LocalRecipients local(cfg, {});
    RelayPolicy policy(cfg, local);
    expect_decision(policy, GetParam());
}

INSTANTIATE_TEST_SUITE_P(All, RelayWithLocal, ::testing::ValuesIn(kWithLocal),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RelayWithLocal, ReplyNamesNoConfiguration) {
    config::Config cfg = with_local_users();
    LocalRecipients local(cfg, {});
    RelayPolicy policy(cfg, local);
    auto r = policy.check_rcpt(facts("mx"), std::nullopt, mail::Mailbox{"carol", "example.test"});
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->lines.size(), 1u);
    EXPECT_EQ(r->lines[0].find("alice"), std::string::npos);
    EXPECT_NE(r->lines[0].find("User unknown"), std::string::npos);
}

}  // namespace
}  // namespace petrel::policy
