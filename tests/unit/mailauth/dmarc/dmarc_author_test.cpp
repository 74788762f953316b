// tests/unit/mailauth/dmarc/dmarc_author_test.cpp — the RFC5322.From domain (RFC 7489
// §6.6.1): the RFC 5322 mailbox forms that name one author, and every way a From field fails
// to (none, several fields, several addresses, groups, literals, broken syntax).
#include <gtest/gtest.h>

#include <string>

#include "mailauth/dmarc/dmarc.h"

namespace petrel::mailauth::dmarc {
namespace {

std::string domain_of(const std::string& from_value) {
    AuthorDomain a = author_domain("From:" + from_value + "\r\nSubject: x\r\n\r\nbody\r\n");
    EXPECT_TRUE(a.error.empty()) << from_value << ": " << a.error;
    return a.domain;
}

std::string error_of(const std::string& header) {
    AuthorDomain a = author_domain(header);
    EXPECT_TRUE(a.domain.empty()) << header;
    return a.error;
}

TEST(DmarcAuthorDomain, MailboxForms) {
    EXPECT_EQ(domain_of(" user@example.com"), "example.com");
    EXPECT_EQ(domain_of(" User@EXAMPLE.Com."), "example.com");
    EXPECT_EQ(domain_of(" Joe Public <joe@mail.example.org>"), "mail.example.org");
    EXPECT_EQ(domain_of(" \"Public, Joe\" <joe@example.org>"), "example.org");
    EXPECT_EQ(domain_of(" \"evil@bank.example\" <x@attacker.example>"), "attacker.example");
    EXPECT_EQ(domain_of(" (comment @bank.example) x@attacker.example (another (nested) one)"), "attacker.example");
    EXPECT_EQ(domain_of(" \"a@b\"@quoted.example"), "quoted.example");
    EXPECT_EQ(domain_of(" <@relay.example,@r2.example:u@routed.example>"), "routed.example");
    EXPECT_EQ(domain_of("\r\n Folded Name\r\n <f@folded.example>"), "folded.example");
    EXPECT_EQ(domain_of(" Team: one@group.example;"), "group.example");  // RFC 6854
    EXPECT_EQ(domain_of(" u@b\xc3\xbc" "cher.example"), "xn--bcher-kva.example");
}

TEST(DmarcAuthorDomain, LfOnlyAndHeaderOnlyInput) {
    EXPECT_EQ(author_domain("Subject: s\nFrom: a@lf.example\n\nbody\nFrom: b@body.example\n").domain, "lf.example");
    EXPECT_EQ(author_domain("From: a@head.example").domain, "head.example");
    EXPECT_EQ(author_domain("Subject: s\r\n\r\nFrom: a@body.example\r\n").error, "no From field");
}

TEST(DmarcAuthorDomain, Errors) {
    EXPECT_EQ(error_of("Subject: x\r\n\r\n"), "no From field");
    EXPECT_EQ(error_of("From: a@one.example\r\nfrom: b@two.example\r\n\r\n"), "several From fields");
    EXPECT_EQ(error_of("From: a@one.example, b@two.example\r\n\r\n"), "several addresses in From");
    EXPECT_EQ(error_of("From: A <a@one.example>, B <b@one.example>\r\n\r\n"), "several addresses in From");
    EXPECT_EQ(error_of("From: G: a@one.example, b@two.example;\r\n\r\n"), "several addresses in From");
    EXPECT_EQ(error_of("From: undisclosed-recipients:;\r\n\r\n"), "no address in From");
    EXPECT_EQ(error_of("From: \r\n\r\n"), "no address in From");
    EXPECT_EQ(error_of("From: <a@one.example> <b@two.example>\r\n\r\n"), "several angle-addrs in From");
    EXPECT_EQ(error_of("From: user\r\n\r\n"), "From address has no domain");
    EXPECT_EQ(error_of("From: user@\r\n\r\n"), "From address has no domain");
    EXPECT_EQ(error_of("From: user@[192.0.2.1]\r\n\r\n"), "From domain is an address literal");
    EXPECT_EQ(error_of("From: user@exa_mple..com\r\n\r\n"), "From domain is not a valid domain");
    EXPECT_EQ(error_of("From: Name <a@one.example\r\n\r\n"), "unterminated comment, quote or '<' in From");
    EXPECT_EQ(error_of("From: (open a@one.example\r\n\r\n"), "unterminated comment, quote or '<' in From");
    EXPECT_EQ(error_of("From: a@one.example>\r\n\r\n"), "unbalanced '>' in From");
    EXPECT_EQ(error_of(" folded first\r\nFrom: a@b.example\r\n\r\n").substr(0, 19), "header unparseable:");
}

TEST(DmarcAuthorDomain, ResentFromIsNotFrom) {
    AuthorDomain a = author_domain("Resent-From: r@resent.example\r\nFrom: a@author.example\r\n\r\n");
    EXPECT_EQ(a.domain, "author.example");
}

TEST(DmarcAuthorDomain, ManyAddressesStopEarly) {
    std::string v = "From: ";
    for (int i = 0; i < 5000; ++i) v += "a" + std::to_string(i) + "@x.example, ";
    v += "\r\n\r\n";
    EXPECT_EQ(error_of(v), "several addresses in From");
}

}  // namespace
}  // namespace petrel::mailauth::dmarc
