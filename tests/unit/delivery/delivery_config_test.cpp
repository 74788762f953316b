// Unit tests for delivery/retry_policy.h and the [delivery] keys of config/load.cpp
// (docs/configuration.md, docs/delivery.md): schedule, jitter bounds, lifetimes, parsing,
// and errors naming their line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>

#include "config/config.h"
#include "delivery/retry_policy.h"

namespace petrel::delivery {
namespace {

TEST(RetryPolicy, DoublesFromTheFirstRetryUpToTheCapWithJitter) {
    config::Delivery d;
    d.first_retry = std::chrono::seconds(300);
    d.max_retry = std::chrono::seconds(3600);
    RetryPolicy p(d);
    std::mt19937_64 rng(1);
    const int64_t base[] = {300000, 600000, 1200000, 2400000, 3600000, 3600000};
    for (uint32_t attempt = 1; attempt <= 6; ++attempt) {
        for (int i = 0; i < 50; ++i) {
            int64_t ms = p.delay_ms(attempt, rng);
            EXPECT_GE(ms, base[attempt - 1] * 8 / 10) << attempt;
            EXPECT_LE(ms, base[attempt - 1] * 12 / 10) << attempt;
        }
    }
    EXPECT_LE(p.delay_ms(1000000, rng), 3600000 * 12 / 10) << "no overflow on huge counts";
}

TEST(RetryPolicy, ExplicitScheduleRepeatsItsLastValue) {
    config::Delivery d;
    d.retry_schedule = {std::chrono::seconds(10), std::chrono::seconds(60)};
    RetryPolicy p(d);
    std::mt19937_64 rng(2);
    EXPECT_LE(p.delay_ms(1, rng), 12000);
    EXPECT_GE(p.delay_ms(2, rng), 48000);
    EXPECT_GE(p.delay_ms(9, rng), 48000);
    EXPECT_LE(p.delay_ms(9, rng), 72000);
}

TEST(RetryPolicy, BouncesExpireAtTheShorterLifetime) {
    config::Delivery d;
    d.max_queue_lifetime = std::chrono::seconds(100);
    d.bounce_lifetime = std::chrono::seconds(10);
    RetryPolicy p(d);
    EXPECT_FALSE(p.expired(0, false, 99999));
    EXPECT_TRUE(p.expired(0, false, 100000));
    EXPECT_TRUE(p.expired(0, true, 10000));
    EXPECT_FALSE(p.expired(0, true, 9999));
}

class DeliveryConfig : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-delivery-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/petrel.toml";
    }
    void TearDown() override {
        ::unlink(path_.c_str());
        ::unlink((dir_ + "/pw").c_str());
        ::rmdir(dir_.c_str());
    }
    config::Config load(const std::string& text) {
        std::ofstream(path_) << text;
        return config::load_config(path_);
    }
    std::string error_of(const std::string& text) {
        try {
            load(text);
        } catch (const config::ConfigError& e) {
            return std::to_string(e.line()) + ": " + std::string(e.what()).substr(path_.size() + 1);
        }
        return "no error";
    }
    std::string dir_, path_;
};

TEST_F(DeliveryConfig, DefaultsMatchTheDocs) {
    config::Config c = load("");
    EXPECT_FALSE(c.delivery.paused);
    EXPECT_EQ(c.delivery.first_retry.count(), 300);
    EXPECT_EQ(c.delivery.max_retry.count(), 3600);
    EXPECT_EQ(c.delivery.max_queue_lifetime.count(), 5 * 86400);
    EXPECT_EQ(c.delivery.bounce_lifetime.count(), 2 * 86400);
    EXPECT_EQ(c.delivery.defaults.tls, config::TlsPolicy::Opportunistic);
    EXPECT_EQ(c.delivery.defaults.max_connections, 10u);
    EXPECT_FALSE(c.delivery.smarthost);
}

TEST_F(DeliveryConfig, EveryKey) {
    std::ofstream(dir_ + "/pw") << "from-file\n";
    config::Config c = load(
        "[delivery]\nmode = \"smarthost\"\npaused = true\nretry_schedule = [5, 10]\n"
        "first_retry_seconds = 2\nmax_retry_seconds = 4\nmax_queue_lifetime_seconds = 60\n"
        "bounce_lifetime_seconds = 30\ndelay_warning_seconds = 0\nidle_timeout_seconds = 0\n"
        "connect_timeout_seconds = 3\ndestination_backoff_seconds = 7\nmax_connections = 2\n"
        "messages_per_connection = 5\nmessages_per_minute = 60\ntls = \"required\"\n"
        "[delivery.smarthost]\nhost = \"relay.test:587\"\ntls = \"implicit\"\n"
        "tls_verify = false\nusername = \"u\"\npassword_file = \"" + dir_ + "/pw\"\n"
        "[[delivery.destination]]\ndomains = [\"slow.test\"]\nmessages_per_minute = 1\n"
        "[[delivery.route]]\ndomains = [\"Partner.TEST\"]\nsmarthost = \"10.0.0.1\"\ntls = \"none\"\n");
    const auto& d = c.delivery;
    EXPECT_EQ(c.delivery_mode, config::DeliveryMode::Smarthost);
    EXPECT_TRUE(d.paused);
    ASSERT_EQ(d.retry_schedule.size(), 2u);
    EXPECT_EQ(d.retry_schedule[1].count(), 10);
    EXPECT_EQ(d.destination_backoff.count(), 7);
    EXPECT_EQ(d.defaults.tls, config::TlsPolicy::Required);
    ASSERT_TRUE(d.smarthost);
    EXPECT_EQ(d.smarthost->host, "relay.test");
    EXPECT_EQ(d.smarthost->port, 587);
    EXPECT_EQ(d.smarthost->tls, config::SmarthostTls::Implicit);
    EXPECT_FALSE(d.smarthost->tls_verify);
    EXPECT_EQ(d.smarthost->password, "from-file");
    ASSERT_EQ(d.destinations.size(), 1u);
    EXPECT_EQ(d.destinations[0].messages_per_minute, 1u);
    EXPECT_EQ(d.destinations[0].max_connections, 2u) << "unset keys take the defaults";
    EXPECT_EQ(d.destinations[0].tls, config::TlsPolicy::Required);
    ASSERT_EQ(d.routes.size(), 1u);
    EXPECT_EQ(d.routes[0].domains[0], "partner.test");
    EXPECT_EQ(d.routes[0].smarthost.port, 25);
    EXPECT_EQ(d.routes[0].smarthost.tls, config::SmarthostTls::None);
}

TEST_F(DeliveryConfig, CaFileForRequiredTlsDefaultAndPerDestination) {
    std::ofstream(dir_ + "/pw") << "not really a CA, only readable\n";
    config::Config c = load("[delivery]\ntls = \"required\"\nca_file = \"" + dir_ + "/pw\"\n"
                            "[[delivery.destination]]\ndomains = [\"a.test\"]\n"
                            "[[delivery.destination]]\ndomains = [\"b.test\"]\nca_file = \"" +
                            dir_ + "/pw\"\n");
    EXPECT_EQ(c.delivery.defaults.ca_file, dir_ + "/pw");
    EXPECT_EQ(c.delivery.destinations[0].ca_file, dir_ + "/pw") << "inherits the default";
    EXPECT_EQ(c.delivery.destinations[1].ca_file, dir_ + "/pw");
    EXPECT_TRUE(load("").delivery.defaults.ca_file.empty()) << "default: the system store";
    const std::string err = error_of("[delivery]\n\nca_file = \"" + dir_ + "/missing.pem\"\n");
    EXPECT_EQ(err.substr(0, 3), "3: ") << err;
    EXPECT_NE(err.find("cannot read ca_file"), std::string::npos) << err;
}

TEST_F(DeliveryConfig, ErrorsNameTheLine) {
    EXPECT_EQ(error_of("[delivery]\nmode = \"mx\"\ntls = \"maybe\"\n").substr(0, 3), "3: ");
    EXPECT_EQ(error_of("[delivery]\nmode = \"smarthost\"\n").substr(0, 3), "2: ");
    EXPECT_EQ(error_of("[delivery]\nfirst_retry_seconds = 10\nmax_retry_seconds = 5\n").substr(0, 3), "3: ");
    EXPECT_EQ(error_of("[delivery]\n[[delivery.destination]]\nmax_connections = 1\n").substr(0, 3), "2: ");
    EXPECT_NE(error_of("[delivery]\nretry_schedule = [0]\n").find("positive"), std::string::npos);
    EXPECT_NE(error_of("[delivery.smarthost]\nhost = \"127.0.0.1:1\"\nusername = \"u\"\n").find("needs a password"),
              std::string::npos);
    EXPECT_NE(error_of("[delivery]\nbogus = 1\n").find("unknown key 'delivery.bogus'"), std::string::npos);
}

}  // namespace
}  // namespace petrel::delivery
