// Unit tests for policy::LocalRecipients (who exists in domains.local) and mail::mailbox_name,
// the rule that turns a local part into a mailbox name (mail/local_part.h). Its use at RCPT time
// (550 5.1.1) is tested with RelayPolicy in relay_policy_test.cpp.
#include <gtest/gtest.h>

#include "config/config.h"
#include "mail/local_part.h"
#include "policy/local_recipients.h"

namespace petrel::policy {
namespace {

config::Config base() {
    config::Config c = config::default_config();
    c.delivery_mode = config::DeliveryMode::Mx;
    c.hostname = "mx.local.test";
    c.domains.local = {"local.test", "other-local.test"};
    c.domains.relay = {"partner.test"};
    return c;
}

config::Config with_users() {
    config::Config c = base();
    c.local.users = {"alice", "bob"};
    c.local.aliases = {{"info", "bob"}, {"sales", "ghost"}};
    return c;
}

TEST(MailboxName, FoldsCaseUnquotesAndRefusesEscapes) {
    EXPECT_EQ(mail::mailbox_name("Alice").value_or("?"), "alice");
    EXPECT_EQ(mail::mailbox_name("\"Alice\"").value_or("?"), "alice");
    EXPECT_EQ(mail::mailbox_name("\"john doe\"").value_or("?"), "john doe");
    EXPECT_EQ(mail::mailbox_name("\"a\\.b\"").value_or("?"), "a.b");  // quoted-pair
    EXPECT_FALSE(mail::mailbox_name("\"\\\"\"")) << "a '\"' would not read back as itself";
    EXPECT_EQ(mail::mailbox_name("first.last").value_or("?"), "first.last");
    EXPECT_EQ(mail::mailbox_name("J\xc3\xb6rg").value_or("?"), "j\xc3\xb6rg");  // UTF-8 kept
    for (std::string bad : std::vector<std::string>{"", ".", "..", "../x", ".x", "a..b", "a/b", "a\\b", "\"a/b\"",
                            std::string("a\0b", 3), "a\x7f", "a\nb", "\"unterminated",
                            std::string(65, 'a')}) {
        EXPECT_FALSE(mail::mailbox_name(bad).has_value()) << bad;
    }
    EXPECT_TRUE(mail::mailbox_name(std::string(64, 'a')).has_value());
}

TEST(LocalRecipients, UsersAliasesAndPostmaster) {
    LocalRecipients local(with_users(), {});
    EXPECT_FALSE(local.catch_all());
    EXPECT_EQ(local.resolve("alice").value_or("?"), "alice");
    EXPECT_EQ(local.resolve("ALICE").value_or("?"), "alice");
    EXPECT_EQ(local.resolve("\"bob\"").value_or("?"), "bob");
    EXPECT_EQ(local.resolve("Info").value_or("?"), "bob");
    // RFC 5321 §4.5.1: postmaster exists; by default an alias to the first user.
    EXPECT_EQ(local.resolve("Postmaster").value_or("?"), "alice");
    EXPECT_FALSE(local.resolve("carol"));
    EXPECT_FALSE(local.resolve("sales")) << "an alias to a user who does not exist";
    EXPECT_FALSE(local.resolve("../alice"));
    EXPECT_NE(local.describe().find("'sales' names no user"), std::string::npos) << local.describe();
}

TEST(LocalRecipients, ConfiguredPostmasterAliasWins) {
    config::Config c = with_users();
    c.local.aliases.push_back({"postmaster", "bob"});
    EXPECT_EQ(LocalRecipients(c, {}).resolve("postmaster").value_or("?"), "bob");
    c.local.users.push_back("postmaster");  // a mailbox of its own
    c.local.aliases.pop_back();
    EXPECT_EQ(LocalRecipients(c, {}).resolve("postmaster").value_or("?"), "postmaster");
}

TEST(LocalRecipients, CatchAllWhenNoUserIsKnown) {
    config::Config c = base();
    c.local.aliases = {{"info", "bob"}};
    LocalRecipients local(c, {"alice@local.test"});  // use_store_users is off
    EXPECT_TRUE(local.catch_all());
    EXPECT_EQ(local.resolve("Anyone").value_or("?"), "anyone");
    EXPECT_FALSE(local.resolve("../x")) << "a catch-all still refuses unusable names";
    EXPECT_NE(local.describe().find("catch-all"), std::string::npos);
}

TEST(LocalRecipients, StoreUsersCountWhenEnabled) {
    config::Config c = base();
    c.local.use_store_users = true;
    LocalRecipients local(c, {"Alice@Local.TEST", "app1@partner.test", "bob", "carol@other-local.test"});
    EXPECT_FALSE(local.catch_all());
    EXPECT_EQ(local.resolve("alice").value_or("?"), "alice");
    EXPECT_EQ(local.resolve("bob").value_or("?"), "bob");
    EXPECT_EQ(local.resolve("carol").value_or("?"), "carol") << "one namespace for all local domains";
    EXPECT_FALSE(local.resolve("app1")) << "a store user at a non-local domain is no local user";
    EXPECT_EQ(local.resolve("postmaster").value_or("?"), "alice");
    EXPECT_EQ(local.user_count(), 3u);

    local.replace_store_users({"dave"});  // SIGHUP after `petrel user add` / `user remove`
    EXPECT_FALSE(local.resolve("alice"));
    EXPECT_EQ(local.resolve("dave").value_or("?"), "dave");
    EXPECT_EQ(local.resolve("postmaster").value_or("?"), "dave");
    local.replace_store_users({});
    EXPECT_TRUE(local.catch_all());
}

TEST(LocalRecipients, MailboxOverloadChecksTheDomain) {
    LocalRecipients local(with_users(), {});
    EXPECT_EQ(local.resolve(mail::Mailbox{"alice", "other-local.test"}).value_or("?"), "alice");
    EXPECT_FALSE(local.resolve(mail::Mailbox{"alice", "partner.test"}));
}

}  // namespace
}  // namespace petrel::policy
