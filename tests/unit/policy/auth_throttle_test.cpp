// Unit tests for policy::AuthThrottle: window, lockout, delay, success, eviction, IPv6 grouping.
#include "policy/auth_throttle.h"

#include <gtest/gtest.h>

#include <string>

namespace petrel::policy {
namespace {

using namespace std::chrono_literals;
using Clock = AuthThrottle::Clock;

AuthThrottle::Limits limits(unsigned max_failures = 3) {
    AuthThrottle::Limits l;
    l.max_failures = max_failures;
    l.window = 60s;
    l.lockout = 600s;
    l.failure_delay = 1000ms;
    l.max_delay = 5000ms;
    return l;
}

const Clock::time_point t0 = Clock::time_point{} + 1000h;  // far from the epoch

TEST(AuthThrottle, UnknownIpIsNotBlockedAndHasNoDelay) {
    AuthThrottle t(limits());
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0));
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 0ms);
    EXPECT_EQ(t.tracked(), 0u);
}

TEST(AuthThrottle, LocksOutAtMaxFailuresWithinWindow) {
    AuthThrottle t(limits(3));
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 1s));
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 10s));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 11s));
    EXPECT_TRUE(t.record_failure("192.0.2.1", t0 + 20s));  // third: the lockout starts
    EXPECT_TRUE(t.is_blocked("192.0.2.1", t0 + 20s));
    EXPECT_FALSE(t.is_blocked("192.0.2.2", t0 + 20s));     // other clients unaffected
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 21s)); // already locked: no new start
}

TEST(AuthThrottle, LockoutExpires) {
    AuthThrottle t(limits(2));
    t.record_failure("192.0.2.1", t0);
    ASSERT_TRUE(t.record_failure("192.0.2.1", t0 + 1s));
    EXPECT_TRUE(t.is_blocked("192.0.2.1", t0 + 1s + 599s));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 1s + 600s));
    // Afresh after the lockout: it takes max_failures new failures to lock again.
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 0ms);
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 700s));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 700s));
    EXPECT_TRUE(t.record_failure("192.0.2.1", t0 + 701s));
    EXPECT_TRUE(t.is_blocked("192.0.2.1", t0 + 701s));
}

TEST(AuthThrottle, LockoutExpiresEvenWithoutIsBlockedInBetween) {
    AuthThrottle t(limits(2));
    t.record_failure("192.0.2.1", t0);
    ASSERT_TRUE(t.record_failure("192.0.2.1", t0));
    // The next failure comes after the lockout is over: it counts as the first of a new run.
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 601s));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 601s));
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 1000ms);
}

TEST(AuthThrottle, FailuresOutsideTheWindowDoNotAddUp) {
    AuthThrottle t(limits(3));
    t.record_failure("192.0.2.1", t0);
    t.record_failure("192.0.2.1", t0 + 30s);
    // The window (60 s from the first failure) has passed: the count starts again.
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 60s));
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 1000ms);
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 61s));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 61s));
    EXPECT_TRUE(t.record_failure("192.0.2.1", t0 + 62s));
    EXPECT_TRUE(t.is_blocked("192.0.2.1", t0 + 62s));
}

TEST(AuthThrottle, DelayGrowsWithFailuresAndIsCapped) {
    AuthThrottle::Limits l = limits(100);
    AuthThrottle t(l);
    for (int i = 1; i <= 8; ++i) {
        t.record_failure("192.0.2.1", t0 + std::chrono::seconds(i));
        auto expected = std::min<std::chrono::milliseconds>(1000ms * i, 5000ms);
        EXPECT_EQ(t.failure_delay("192.0.2.1"), expected) << i;
    }
}

TEST(AuthThrottle, DelayCapDoesNotOverflow) {
    AuthThrottle::Limits l = limits(1000000);
    l.failure_delay = std::chrono::milliseconds::max() / 2;
    AuthThrottle t(l);
    t.record_failure("192.0.2.1", t0);
    t.record_failure("192.0.2.1", t0);
    t.record_failure("192.0.2.1", t0);
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 5000ms);
    l.failure_delay = 0ms;
    AuthThrottle none(l);
    none.record_failure("192.0.2.1", t0);
    EXPECT_EQ(none.failure_delay("192.0.2.1"), 0ms);
}

TEST(AuthThrottle, SuccessResetsTheCount) {
    AuthThrottle t(limits(3));
    t.record_failure("192.0.2.1", t0);
    t.record_failure("192.0.2.1", t0 + 1s);
    t.record_success("192.0.2.1");
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 0ms);
    EXPECT_EQ(t.tracked(), 0u);
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 2s));
    EXPECT_FALSE(t.record_failure("192.0.2.1", t0 + 3s));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 3s));
    t.record_success("198.51.100.7");  // unknown: harmless
}

TEST(AuthThrottle, SuccessDoesNotLiftALockout) {
    AuthThrottle t(limits(2));
    t.record_failure("192.0.2.1", t0);
    ASSERT_TRUE(t.record_failure("192.0.2.1", t0));
    t.record_success("192.0.2.1");
    EXPECT_TRUE(t.is_blocked("192.0.2.1", t0 + 1s));
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 0ms);
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 600s));
}

TEST(AuthThrottle, EvictsTheLeastRecentlyTouched) {
    AuthThrottle::Limits l = limits(2);
    l.max_tracked = 3;
    AuthThrottle t(l);
    t.record_failure("10.0.0.1", t0);
    ASSERT_TRUE(t.record_failure("10.0.0.1", t0));  // locked out
    t.record_failure("10.0.0.2", t0 + 1s);
    t.record_failure("10.0.0.3", t0 + 2s);
    EXPECT_EQ(t.tracked(), 3u);
    t.record_failure("10.0.0.1", t0 + 3s);           // touch .1: .2 is now the oldest
    t.record_failure("10.0.0.4", t0 + 4s);
    EXPECT_EQ(t.tracked(), 3u);
    EXPECT_EQ(t.failure_delay("10.0.0.2"), 0ms);      // evicted
    EXPECT_EQ(t.failure_delay("10.0.0.3"), 1000ms);
    EXPECT_EQ(t.failure_delay("10.0.0.4"), 1000ms);
    EXPECT_TRUE(t.is_blocked("10.0.0.1", t0 + 5s));   // survived
}

TEST(AuthThrottle, MemoryStaysBoundedUnderAFlood) {
    AuthThrottle::Limits l = limits(5);
    l.max_tracked = 1000;
    AuthThrottle t(l);
    for (int i = 0; i < 50000; ++i) {
        std::string ip = "10." + std::to_string((i >> 16) & 255) + "." +
                         std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
        t.record_failure(ip, t0 + std::chrono::milliseconds(i));
        ASSERT_LE(t.tracked(), 1000u);
    }
}

TEST(AuthThrottle, ExpiredEntriesArePruned) {
    AuthThrottle t(limits(3));
    for (int i = 0; i < 5; ++i) t.record_failure("10.0.0." + std::to_string(i), t0);
    EXPECT_EQ(t.tracked(), 5u);
    // Long after every window: a few calls prune everything that expired.
    for (int i = 0; i < 3; ++i) t.is_blocked("192.0.2.9", t0 + 3600s);
    EXPECT_EQ(t.tracked(), 0u);
}

TEST(AuthThrottle, LockedEntriesAreNotPrunedBeforeTheLockoutEnds) {
    AuthThrottle t(limits(1));
    ASSERT_TRUE(t.record_failure("10.0.0.1", t0));
    for (int i = 0; i < 3; ++i) t.is_blocked("192.0.2.9", t0 + 120s);  // window over, lockout not
    EXPECT_EQ(t.tracked(), 1u);
    EXPECT_TRUE(t.is_blocked("10.0.0.1", t0 + 120s));
    t.is_blocked("192.0.2.9", t0 + 601s);
    EXPECT_EQ(t.tracked(), 0u);
}

TEST(AuthThrottle, Ipv6IsGroupedBySlash64) {
    AuthThrottle t(limits(2));
    EXPECT_EQ(t.key_for("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    EXPECT_EQ(t.key_for("[2001:DB8:1:2::ffff]"), "2001:db8:1:2::/64");
    EXPECT_EQ(t.key_for("::ffff:192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(t.key_for("192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(t.key_for("fe80::1%eth0"), "fe80::/64");
    EXPECT_EQ(t.key_for("not-an-ip:zz"), "not-an-ip:zz");  // opaque, still usable
    t.record_failure("2001:db8:1:2::1", t0);
    ASSERT_TRUE(t.record_failure("2001:db8:1:2::2", t0));
    EXPECT_TRUE(t.is_blocked("2001:db8:1:2:ffff:ffff:ffff:ffff", t0));
    EXPECT_FALSE(t.is_blocked("2001:db8:1:3::1", t0));
    // IPv4-mapped and plain IPv4 are the same client.
    t.record_failure("::ffff:192.0.2.1", t0);
    EXPECT_TRUE(t.record_failure("192.0.2.1", t0));
}

TEST(AuthThrottle, Ipv6GroupingCanBeTurnedOff) {
    AuthThrottle::Limits l = limits(2);
    l.group_ipv6_by_64 = false;
    AuthThrottle t(l);
    EXPECT_EQ(t.key_for("2001:db8:1:2:aaaa::1"), "2001:db8:1:2:aaaa::1");
    t.record_failure("2001:db8::1", t0);
    EXPECT_FALSE(t.record_failure("2001:db8::2", t0));
    EXPECT_FALSE(t.is_blocked("2001:db8::2", t0));
}

TEST(AuthThrottle, FromConfigAuth) {
    config::Auth a;
    a.max_failures = 2;
    a.failure_window = std::chrono::seconds(10);
    a.lockout = std::chrono::seconds(20);
    a.failure_delay = std::chrono::milliseconds(250);
    AuthThrottle t(a);
    t.record_failure("192.0.2.1", t0);
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 250ms);
    EXPECT_TRUE(t.record_failure("192.0.2.1", t0 + 9s));
    EXPECT_EQ(t.failure_delay("192.0.2.1"), 500ms);
    EXPECT_TRUE(t.is_blocked("192.0.2.1", t0 + 28s));
    EXPECT_FALSE(t.is_blocked("192.0.2.1", t0 + 29s));
}

TEST(AuthThrottle, ZeroMaxFailuresMeansOne) {
    AuthThrottle::Limits l = limits(0);
    AuthThrottle t(l);
    EXPECT_TRUE(t.record_failure("192.0.2.1", t0));
}

}  // namespace
}  // namespace petrel::policy
