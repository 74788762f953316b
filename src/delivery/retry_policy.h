// delivery/retry_policy.h — when to try a deferred message again, and when to give up.
//
// Pure: the clock and the random source are passed in. RFC 5321 §4.5.4.1: the retry interval
// "SHOULD be at least 30 minutes" and the give-up time "at least 4-5 days"; the defaults
// (first retry 5 min, doubling, capped at 1 h, 5 days) follow Postfix's practice, and tests set
// them to seconds. Jitter (±20%) keeps messages deferred together from all coming back at the
// same instant. Bounces (DSNs petrel generated) have their own, shorter lifetime.
// Trust: only configuration values.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "config/config.h"

namespace petrel::delivery {

// Wall-clock milliseconds since the epoch (the queue's time base: created_ms, next_attempt_ms).
inline int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class RetryPolicy {
public:
    explicit RetryPolicy(const config::Delivery& d);

    // Milliseconds to wait after the `attempt`-th failed attempt (1-based), jitter included.
    int64_t delay_ms(uint32_t attempt, std::mt19937_64& rng) const;
    // How long a message may stay queued (bounces: the bounce lifetime).
    int64_t lifetime_ms(bool is_bounce) const;
    bool expired(int64_t created_ms, bool is_bounce, int64_t now_ms) const {
        return now_ms >= created_ms + lifetime_ms(is_bounce);
    }

private:
    std::vector<int64_t> schedule_ms_;  // explicit schedule; the last value repeats
    int64_t first_ms_, max_ms_, lifetime_ms_, bounce_lifetime_ms_;
};

}  // namespace petrel::delivery
