// tests/unit/mailauth/outbound_test.cpp — mailauth/outbound.h: reading arc= from petrel's
// Authentication-Results (quoted strings and comments do not count), finding petrel's own
// field, when mail is sealed (mx without AUTH, arc=none|pass) and when not (submission,
// arc=fail, sealing off), DKIM signature below the ARC set, and the all-or-nothing reload.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "dkim_test_util.h"
#include "mailauth/arc/verifier.h"
#include "mailauth/dkim/key_store.h"
#include "mailauth/outbound.h"

namespace petrel::mailauth {
namespace {

namespace fs = std::filesystem;

TEST(ArcResultOf, ReadsTheResinfo) {
    EXPECT_EQ(arc_result_of("mx.example; spf=pass smtp.mailfrom=a@b; arc=none"), "none");
    EXPECT_EQ(arc_result_of("mx.example;\r\n\tdkim=pass;\r\n\tARC = Pass (i=1) header.oldest-pass=0"), "pass");
    EXPECT_EQ(arc_result_of("mx.example; arc=fail"), "fail");
    EXPECT_EQ(arc_result_of("mx.example; spf=pass"), "");
    EXPECT_EQ(arc_result_of("mx.example; none"), "");
    // Sender-controlled text inside a quoted-string or a comment is not a resinfo.
    EXPECT_EQ(arc_result_of("mx.example; spf=pass smtp.mailfrom=\"x; arc=pass\"; arc=none"), "none");
    EXPECT_EQ(arc_result_of("mx.example; spf=pass (a; arc=pass) ; arc=fail"), "fail");
    EXPECT_EQ(arc_result_of("mx.example; dkim=pass header.d=\"a\\\"; arc=pass\""), "");
    EXPECT_EQ(arc_result_of("arc=pass"), "");  // that is the authserv-id position
}

TEST(OwnResults, TopmostFieldWithOurId) {
    const std::string head =
        "Received: from x\r\n"
        "Authentication-Results: other.example; arc=pass\r\n"
        "Authentication-Results: MX.example;\r\n\tspf=pass;\r\n\tarc=none\r\n"
        "Authentication-Results: mx.example; arc=fail\r\n"
        "\r\nbody\r\n";
    auto r = own_results(head, "mx.example");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "MX.example;\r\n\tspf=pass;\r\n\tarc=none");
    EXPECT_FALSE(own_results(head, "nobody.example"));
}

class Outbound : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = (fs::temp_directory_path() / ("petrel-outbound-" + std::to_string(::getpid()))).string();
        fs::remove_all(dir_);
        add_key("seal.test", "arc1", dkim::KeyType::Rsa);
        add_key("sender.test", "d1", dkim::KeyType::Ed25519);
        cfg_.data_dir = dir_;
        cfg_.hostname = "mx.example";
        cfg_.authentication.authserv_id = "mx.example";
        cfg_.authentication.arc_seal = true;
        cfg_.authentication.arc_seal_domain = "seal.test";
        cfg_.authentication.arc_seal_selector = "arc1";
        mx_.facts.listener = "mx";
    }
    void TearDown() override { fs::remove_all(dir_); }
    void add_key(const std::string& domain, const std::string& sel, dkim::KeyType type) {
        dkim::PKey k = dkim::generate_key(type, 1024);
        ASSERT_TRUE(k);
        std::string err;
        ASSERT_TRUE(dkim::write_private_key(dkim::key_path(dir_, domain, sel, type),
                                            dkim::private_key_pem(k.get()), err)) << err;
        dns_.add(sel + "._domainkey." + domain, dkim::public_key_record(k.get()));
    }
    static std::string message(const std::string& arc, const std::string& from = "a@sender.test") {
        return "Received: from client by mx.example\r\n"
               "Authentication-Results: mx.example;\r\n\tspf=pass smtp.mailfrom=" + from +
               ";\r\n\tarc=" + arc + "\r\nFrom: <" + from + ">\r\nTo: <b@dest.test>\r\n"
               "Subject: hi\r\n\r\nhello\r\n";
    }
    std::string dir_;
    config::Config cfg_;
    mail::Envelope mx_;
    dkim::testing::FakeDns dns_;
};

TEST_F(Outbound, SealsMxMailAboveTheDkimSignature) {
    KeyLoadReport report;
    OutboundAuth auth(cfg_, report);
    EXPECT_TRUE(report.errors.empty());
    const std::string msg = message("none");
    EXPECT_TRUE(auth.has_work(msg, mx_));
    Prepared p = auth.prepare(msg, mx_, 1700000000);
    EXPECT_TRUE(p.warnings.empty()) << p.warnings.front();
    EXPECT_EQ(p.arc_instance, 1);
    EXPECT_EQ(p.dkim_domain, "sender.test");
    ASSERT_EQ(p.fields.rfind("ARC-Seal:", 0), 0u) << p.fields;
    const size_t dkim_at = p.fields.find("DKIM-Signature:");
    ASSERT_NE(dkim_at, std::string::npos);
    EXPECT_GT(dkim_at, p.fields.find("ARC-Authentication-Results: i=1; mx.example;\r\n\tspf=pass"));
    auto chain = arc::verify(p.fields + msg, dns_.fetcher(), arc::VerifyOptions{});
    EXPECT_EQ(chain.result, arc::ChainResult::Pass) << chain.detail;
    // The AMS signs the DKIM-Signature: a changed one breaks the chain.
    std::string changed = p.fields + msg;
    changed.replace(changed.find("DKIM-Signature: v=1"), 19, "DKIM-Signature: v=1 ");
    EXPECT_EQ(arc::verify(changed, dns_.fetcher(), arc::VerifyOptions{}).result, arc::ChainResult::Fail);
}

TEST_F(Outbound, NotSealed) {
    KeyLoadReport report;
    OutboundAuth auth(cfg_, report);
    // arc=fail on arrival: a failed chain is not extended (the message is still DKIM-signed).
    Prepared failed = auth.prepare(message("fail"), mx_, 1700000000);
    EXPECT_EQ(failed.arc_instance, 0);
    EXPECT_EQ(failed.fields.rfind("DKIM-Signature:", 0), 0u);
    ASSERT_EQ(failed.warnings.size(), 1u);
    EXPECT_NE(failed.warnings[0].find("arc=fail"), std::string::npos);
    // Submission (or any AUTH) mail: its sender wrote the header section.
    mail::Envelope sub = mx_;
    sub.facts.listener = "submission";
    const std::string other = message("none", "a@nokey.test");
    EXPECT_FALSE(auth.has_work(other, sub));
    EXPECT_TRUE(auth.prepare(other, sub, 1).fields.empty());
    mail::Envelope authed = mx_;
    authed.facts.auth_user = "app1";
    EXPECT_FALSE(auth.has_work(other, authed));
    // No Authentication-Results from petrel: nothing to seal.
    EXPECT_FALSE(auth.has_work("From: <a@nokey.test>\r\n\r\nx\r\n", mx_));
    // Sealing off.
    cfg_.authentication.arc_seal = false;
    KeyLoadReport r2;
    OutboundAuth off(cfg_, r2);
    EXPECT_FALSE(off.has_work(other, mx_));
    EXPECT_TRUE(off.prepare(other, mx_, 1).fields.empty());
}

TEST_F(Outbound, MissingSealKeyIsAWarning) {
    cfg_.authentication.arc_seal_selector = "nope";
    KeyLoadReport report;
    OutboundAuth auth(cfg_, report);
    EXPECT_TRUE(report.errors.empty());
    ASSERT_EQ(report.warnings.size(), 1u);
    EXPECT_NE(report.warnings[0].find("nope._domainkey.seal.test"), std::string::npos);
    EXPECT_EQ(auth.prepare(message("none", "a@nokey.test"), mx_, 1).arc_instance, 0);
}

TEST_F(Outbound, ReloadIsAllOrNothing) {
    KeyLoadReport report;
    OutboundAuth auth(cfg_, report);
    auto before = auth.snapshot();
    EXPECT_FALSE(before->dkim.find("late.test"));
    add_key("late.test", "k1", dkim::KeyType::Rsa);
    const std::string bad = dkim::key_path(dir_, "broken.test", "x", dkim::KeyType::Rsa);
    std::string err;
    ASSERT_TRUE(dkim::write_private_key(bad, "not a key\n", err)) << err;
    KeyLoadReport r1;
    EXPECT_FALSE(auth.reload(r1));
    ASSERT_EQ(r1.errors.size(), 1u);
    EXPECT_NE(r1.errors[0].find(bad), std::string::npos);
    EXPECT_EQ(auth.snapshot(), before);  // the old keys stay
    fs::remove(bad);
    KeyLoadReport r2;
    EXPECT_TRUE(auth.reload(r2));
    EXPECT_TRUE(auth.snapshot()->dkim.find("late.test"));
    EXPECT_TRUE(before->dkim.find("sender.test"));  // a snapshot in use is never changed
}

}  // namespace
}  // namespace petrel::mailauth
