// policy/auth_throttle.cpp — see auth_throttle.h.
#include "policy/auth_throttle.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace petrel::policy {

namespace {

// How many expired entries one call may prune, so that no call costs more than O(1) amortized.
constexpr std::size_t kPruneBudget = 8;

}  // namespace

AuthThrottle::AuthThrottle(const Limits& limits) : limits_(limits) {
    if (limits_.max_failures == 0) limits_.max_failures = 1;
    if (limits_.max_tracked == 0) limits_.max_tracked = 1;
}

AuthThrottle::AuthThrottle(const config::Auth& auth)
    : AuthThrottle([&] {
          Limits l;
          l.max_failures = auth.max_failures;
          l.window = auth.failure_window;
          l.lockout = auth.lockout;
          l.failure_delay = auth.failure_delay;
          return l;
      }()) {}

std::string AuthThrottle::key_for(std::string_view ip) const {
    // Strip brackets and a zone ("[fe80::1%eth0]") before parsing; the socket layer usually
    // hands over a bare address, but be lenient.
    std::string s(ip);
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    if (auto pct = s.find('%'); pct != std::string::npos) s.resize(pct);
    if (s.find(':') == std::string::npos) return s;  // IPv4 or opaque

    unsigned char a[16];
    if (inet_pton(AF_INET6, s.c_str(), a) != 1) return std::string(ip);  // opaque key
    static const unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[INET6_ADDRSTRLEN];
    if (std::memcmp(a, mapped_prefix, 12) == 0) {
        // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is the IPv4 client a.b.c.d.
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        return buf;
    }
    if (limits_.group_ipv6_by_64) std::memset(a + 8, 0, 8);
    if (inet_ntop(AF_INET6, a, buf, sizeof buf) == nullptr) return std::string(ip);
    std::string key(buf);
    if (limits_.group_ipv6_by_64) key += "/64";
    return key;
}

bool AuthThrottle::expired(const Entry& e, Clock::time_point now) const {
    if (e.blocked_until != Clock::time_point{} && now < e.blocked_until) return false;
    if (e.failures > 0 && now - e.window_start < limits_.window) return false;
    return true;
}

void AuthThrottle::touch(Entry& e) { lru_.splice(lru_.begin(), lru_, e.lru); }

void AuthThrottle::erase(std::unordered_map<std::string, Entry>::iterator it) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
}

void AuthThrottle::prune(Clock::time_point now) {
    // Entries at the back are the least recently touched and so the likeliest to have expired.
    for (std::size_t i = 0; i < kPruneBudget && !lru_.empty(); ++i) {
        auto it = entries_.find(lru_.back());
        if (!expired(it->second, now)) break;
        erase(it);
    }
}

bool AuthThrottle::is_blocked(const std::string& ip, Clock::time_point now) {
    prune(now);
    auto it = entries_.find(key_for(ip));
    if (it == entries_.end()) return false;
    Entry& e = it->second;
    if (e.blocked_until == Clock::time_point{}) return false;
    if (now < e.blocked_until) return true;
    // The lockout is over: the client starts afresh.
    erase(it);
    return false;
}

bool AuthThrottle::record_failure(const std::string& ip, Clock::time_point now) {
    prune(now);
    std::string key = key_for(ip);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        if (entries_.size() >= limits_.max_tracked) erase(entries_.find(lru_.back()));
        lru_.push_front(key);
        it = entries_.emplace(std::move(key), Entry{}).first;
        it->second.lru = lru_.begin();
    } else {
        touch(it->second);
    }
    Entry& e = it->second;
    bool locked = e.blocked_until != Clock::time_point{} && now < e.blocked_until;
    if (!locked && e.blocked_until != Clock::time_point{}) {
        e = Entry{0, {}, {}, e.lru};  // an expired lockout: start afresh
    }
    if (e.failures == 0 || now - e.window_start >= limits_.window) {
        e.failures = 0;
        e.window_start = now;
    }
    ++e.failures;
    if (!locked && e.failures >= limits_.max_failures) {
        e.blocked_until = now + limits_.lockout;
        return true;
    }
    return false;
}

void AuthThrottle::record_success(const std::string& ip) {
    auto it = entries_.find(key_for(ip));
    if (it == entries_.end()) return;
    if (it->second.blocked_until != Clock::time_point{}) {
        it->second.failures = 0;  // keep the lockout; it expires on its own
        return;
    }
    erase(it);
}

std::chrono::milliseconds AuthThrottle::failure_delay(const std::string& ip) const {
    auto it = entries_.find(key_for(ip));
    if (it == entries_.end() || it->second.failures == 0) return std::chrono::milliseconds{0};
    auto n = static_cast<std::chrono::milliseconds::rep>(it->second.failures);
    auto per = limits_.failure_delay.count();
    auto cap = limits_.max_delay.count();
    if (per <= 0) return std::chrono::milliseconds{0};
    if (n >= cap / per + 1) return limits_.max_delay;  // avoid overflow
    return std::chrono::milliseconds{std::min(per * n, cap)};
}

}  // namespace petrel::policy
