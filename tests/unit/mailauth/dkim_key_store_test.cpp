// tests/unit/mailauth/dkim_key_store_test.cpp — the key layout under data_dir/dkim/, the DNS
// record (≤255-byte strings), load_signing_keys with [dkim] overrides, and sign_outbound (what
// delivery calls): keys of the From domain or its parent, nothing for other domains.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "dkim_test_util.h"
#include "mailauth/dkim/key_store.h"

namespace petrel::mailauth::dkim {
namespace {

namespace fs = std::filesystem;

class KeyStore : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("petrel-dkim-ks-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        for (auto [sel, type] : {std::pair{"r1", KeyType::Rsa}, std::pair{"e1", KeyType::Ed25519}}) {
            PKey k = generate_key(type, 1024);
            ASSERT_TRUE(k);
            std::string err;
            ASSERT_TRUE(write_private_key(key_path(dir_, "example.test", sel, type), private_key_pem(k.get()), err)) << err;
            dns_.add(std::string(sel) + "._domainkey.example.test", public_key_record(k.get()));
        }
        PKey other = generate_key(KeyType::Ed25519);
        std::string err;
        ASSERT_TRUE(write_private_key(key_path(dir_, "other.test", "s", KeyType::Ed25519), private_key_pem(other.get()), err));
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string dir_;
    testing::FakeDns dns_;
};

const std::string kMsg = "From: A <a@news.example.test>\r\nSubject: s\r\n\r\nhello\r\n";

TEST_F(KeyStore, LayoutAndModes) {
    auto keys = list_keys(dir_);
    ASSERT_EQ(keys.size(), 3u);
    EXPECT_EQ(keys[0].domain, "example.test");
    EXPECT_EQ(keys[0].selector, "e1");
    EXPECT_EQ(keys[0].type, KeyType::Ed25519);
    struct stat st{};
    ASSERT_EQ(::stat(keys[1].path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(key_directory(dir_, "example.test").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    std::string err;
    EXPECT_FALSE(write_private_key(keys[1].path, "x", err));  // never overwrites
    EXPECT_EQ(list_keys(dir_, "other.test").size(), 1u);
}

TEST(DkimRecord, TxtLineSplitsAt255) {
    PKey k = generate_key(KeyType::Rsa, 4096);
    std::string rec = public_key_record(k.get());
    std::string line = dns_txt_line("sel", "example.test", rec);
    EXPECT_EQ(line.rfind("sel._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=", 0), 0u);
    std::string joined;
    size_t pos = 0;
    while ((pos = line.find('"', pos)) != std::string::npos) {
        size_t end = line.find('"', pos + 1);
        EXPECT_LE(end - pos - 1, 255u);
        joined += line.substr(pos + 1, end - pos - 1);
        pos = end + 1;
    }
    EXPECT_EQ(joined, rec);
    std::string err;
    auto parsed = parse_key_record(rec, err);
    ASSERT_TRUE(parsed) << err;
    EXPECT_EQ(parsed->bits, 4096u);
}

TEST_F(KeyStore, SignOutboundUsesParentDomainAndVerifies) {
    config::Dkim cfg;
    SigningKeys keys = load_signing_keys(dir_, cfg);
    EXPECT_TRUE(keys.warnings.empty());
    ASSERT_EQ(keys.domains.size(), 2u);
    EXPECT_EQ(from_domain(kMsg), "news.example.test");
    auto out = sign_outbound(keys, kMsg, 1790000000);
    ASSERT_TRUE(out.ok()) << out.error;
    VerifyOptions vo;
    vo.now = 1790000000;
    auto r = verify(out.header + kMsg, dns_.fetcher(), vo);
    ASSERT_EQ(r.results.size(), 2u);
    for (const auto& s : r.results) EXPECT_EQ(s.result, Result::Pass) << s.detail;
    // A domain without keys: nothing to sign, no error.
    auto none = sign_outbound(keys, "From: x@unrelated.test\r\n\r\nb\r\n", 1);
    EXPECT_TRUE(none.ok());
    EXPECT_TRUE(none.header.empty());
}

TEST_F(KeyStore, ConfigOverrides) {
    config::Dkim cfg;
    cfg.canonicalization = "simple/simple";
    cfg.expiration = std::chrono::seconds(86400);
    config::DkimDomain d;
    d.domain = "example.test";
    d.selectors = {"e1", "missing"};
    cfg.domains.push_back(d);
    config::DkimDomain off;
    off.domain = "other.test";
    off.enabled = false;
    cfg.domains.push_back(off);
    SigningKeys keys = load_signing_keys(dir_, cfg);
    ASSERT_EQ(keys.domains.size(), 1u);
    ASSERT_EQ(keys.domains[0].keys.size(), 1u);
    EXPECT_EQ(keys.domains[0].keys[0].selector, "e1");
    ASSERT_EQ(keys.warnings.size(), 1u);  // selector "missing" has no key
    auto out = sign_outbound(keys, kMsg, 100);
    EXPECT_NE(out.header.find("c=simple/simple"), std::string::npos);
    EXPECT_NE(out.header.find("x=86500"), std::string::npos);
    cfg.enabled = false;
    EXPECT_TRUE(load_signing_keys(dir_, cfg).domains.empty());
}

TEST(DkimConfig, LoadsAndNamesBadLines) {
    auto path = fs::temp_directory_path() / ("petrel-dkim-cfg-" + std::to_string(::getpid()) + ".toml");
    {
        std::ofstream f(path);
        f << "[dkim]\nenabled = true\ncanonicalization = \"relaxed/simple\"\nexpiration_seconds = 3600\n"
             "oversign = [\"From\", \"Subject\"]\n[[dkim.domain]]\nname = \"Example.TEST\"\nselectors = [\"s1\"]\n";
    }
    config::Config c = config::load_config(path.string());
    EXPECT_EQ(c.dkim.canonicalization, "relaxed/simple");
    EXPECT_EQ(c.dkim.expiration.count(), 3600);
    ASSERT_EQ(c.dkim.domains.size(), 1u);
    EXPECT_EQ(c.dkim.domains[0].domain, "example.test");
    {
        std::ofstream f(path);
        f << "[dkim]\nenabled = true\n\ncanonicalization = \"loose\"\n";
    }
    try {
        config::load_config(path.string());
        ADD_FAILURE() << "bad canonicalization accepted";
    } catch (const config::ConfigError& e) {
        EXPECT_EQ(e.line(), 4);
    }
    {
        std::ofstream f(path);
        f << "[dkim]\n[[dkim.domain]]\nname = \"a.test\"\nselector = \"s1\"\n";
    }
    try {
        config::load_config(path.string());
        ADD_FAILURE() << "unknown key accepted";
    } catch (const config::ConfigError& e) {
        EXPECT_EQ(e.line(), 4);
    }
    fs::remove(path);
}

}  // namespace
}  // namespace petrel::mailauth::dkim
