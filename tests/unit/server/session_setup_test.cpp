// Tests for server/session_setup: what each listener kind means for the session.
#include "server/session_setup.h"

#include <gtest/gtest.h>

namespace petrel::server {
namespace {

TEST(SessionSetup, MxOffersTlsButNoAuth) {
    config::Config cfg;
    cfg.hostname = "mx.example.test";
    auto sc = make_session_config(cfg, config::ListenerKind::Mx);
    EXPECT_EQ(sc.kind, smtp::ListenerKind::Mx);
    EXPECT_EQ(sc.hostname, "mx.example.test");
    EXPECT_TRUE(sc.tls_available);
    EXPECT_FALSE(sc.tls_active);
    EXPECT_FALSE(sc.auth_enabled);
    EXPECT_FALSE(sc.require_auth);
    EXPECT_FALSE(sc.require_tls);
}

TEST(SessionSetup, SubmissionRequiresTlsThenAuth) {
    config::Config cfg;
    cfg.limits.max_recipients = 7;
    auto sc = make_session_config(cfg, config::ListenerKind::Submission);
    EXPECT_TRUE(sc.tls_available);
    EXPECT_FALSE(sc.tls_active);
    EXPECT_TRUE(sc.auth_enabled);
    EXPECT_TRUE(sc.auth_requires_tls);
    EXPECT_TRUE(sc.require_auth);
    EXPECT_TRUE(sc.require_tls);
    EXPECT_EQ(sc.limits.max_recipients, 7u);
    cfg.auth.allow_plaintext = true;
    EXPECT_FALSE(make_session_config(cfg, config::ListenerKind::Submission).auth_requires_tls);
}

TEST(SessionSetup, SubmissionsIsTlsFromTheFirstByte) {
    config::Config cfg;
    auto sc = make_session_config(cfg, config::ListenerKind::Submissions);
    EXPECT_EQ(sc.kind, smtp::ListenerKind::Submissions);
    EXPECT_TRUE(sc.tls_active);
    EXPECT_TRUE(sc.auth_enabled);
    EXPECT_TRUE(sc.require_auth);
}

}  // namespace
}  // namespace petrel::server
