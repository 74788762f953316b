// policy/auth_throttle.h — slows, then refuses, SMTP AUTH from a client IP that keeps failing.
//
// Defends against AUTH brute force (STANDARDS.md, "known attacks"). Each failed AUTH from a
// client (RFC 4954 §6: 535 5.7.8) is recorded here; the server then waits `failure_delay(ip)`
// before answering, and once `max_failures` failures fall within `window`, the client is refused
// for `lockout` (the server answers 454 4.7.0 or 421 4.7.0, RFC 4954 §6 / RFC 3463).
//
// Pure: no clock reads, no I/O; time is passed in. Not thread-safe: one instance is owned by
// one strand (or guarded by its owner). Trust: `ip` is a textual address from the socket, not
// from the peer's words; anything unparsable is still usable as an opaque key.
// Memory is bounded: at most `max_tracked` keys, the least recently touched evicted first, and
// expired entries are pruned as calls go by. IPv6 clients are grouped by their /64 (one host
// usually owns a whole /64) unless `group_ipv6_by_64` is false; IPv4-mapped IPv6 counts as IPv4.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/config.h"

namespace petrel::policy {

class AuthThrottle {
public:
    using Clock = std::chrono::steady_clock;

    struct Limits {
        unsigned max_failures = 5;                      // within `window`, then locked out
        std::chrono::milliseconds window{std::chrono::minutes(5)};
        std::chrono::milliseconds lockout{std::chrono::minutes(10)};
        std::chrono::milliseconds failure_delay{1000};  // per failure counted so far
        std::chrono::milliseconds max_delay{5000};      // cap on failure_delay()
        std::size_t max_tracked = 100000;               // keys kept at most
        bool group_ipv6_by_64 = true;
    };

    explicit AuthThrottle(const Limits& limits);
    explicit AuthThrottle(const config::Auth& auth);  // max_failures, window, lockout, delay

    // True while `ip` is locked out. Call before accepting an AUTH command.
    bool is_blocked(const std::string& ip, Clock::time_point now);

    // Counts one failed AUTH. Returns true when this failure starts a lockout (log it).
    bool record_failure(const std::string& ip, Clock::time_point now);

    // A successful AUTH forgets the failures counted for `ip`. A lockout already in force
    // stays in force until it expires.
    void record_success(const std::string& ip);

    // How long to wait before answering a failed AUTH: failure_delay × failures counted for
    // `ip` (including the one just recorded), capped at max_delay; zero when none.
    std::chrono::milliseconds failure_delay(const std::string& ip) const;

    // Number of keys currently tracked (for tests and metrics).
    std::size_t tracked() const { return entries_.size(); }

    // The key `ip` is tracked under: IPv4 as is, IPv6 canonical (its /64 when grouped).
    std::string key_for(std::string_view ip) const;

private:
    struct Entry {
        unsigned failures = 0;
        Clock::time_point window_start{};   // first failure of the current window
        Clock::time_point blocked_until{};  // epoch (default) when not locked out
        std::list<std::string>::iterator lru;
    };

    bool expired(const Entry& e, Clock::time_point now) const;
    void touch(Entry& e);
    void prune(Clock::time_point now);
    void erase(std::unordered_map<std::string, Entry>::iterator it);

    Limits limits_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> lru_;  // front: most recently touched
};

}  // namespace petrel::policy
