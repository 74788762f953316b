// delivery/retry_policy.cpp — see retry_policy.h.
#include "delivery/retry_policy.h"

#include <algorithm>

namespace petrel::delivery {

namespace {
int64_t ms(std::chrono::seconds s) { return static_cast<int64_t>(s.count()) * 1000; }
}  // namespace

RetryPolicy::RetryPolicy(const config::Delivery& d)
    : first_ms_(ms(d.first_retry)),
      max_ms_(ms(d.max_retry)),
      lifetime_ms_(ms(d.max_queue_lifetime)),
      bounce_lifetime_ms_(ms(d.bounce_lifetime)) {
    for (auto s : d.retry_schedule) schedule_ms_.push_back(ms(s));
}

int64_t RetryPolicy::delay_ms(uint32_t attempt, std::mt19937_64& rng) const {
    if (attempt == 0) attempt = 1;
    int64_t base;
    if (!schedule_ms_.empty()) {
        base = schedule_ms_[std::min<size_t>(attempt - 1, schedule_ms_.size() - 1)];
    } else {
        base = first_ms_;
        for (uint32_t i = 1; i < attempt && base < max_ms_; ++i) base *= 2;  // bounded by the cap
        base = std::min(base, max_ms_);
    }
    // ±20% jitter, never below half a second.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return std::max<int64_t>(500, static_cast<int64_t>(static_cast<double>(base) * jitter(rng)));
}

int64_t RetryPolicy::lifetime_ms(bool is_bounce) const {
    return is_bounce ? std::min(bounce_lifetime_ms_, lifetime_ms_) : lifetime_ms_;
}

}  // namespace petrel::delivery
