// dns/cache.cpp — TTL and LRU bookkeeping of dns::Cache (contract in cache.h).
#include "dns/cache.h"

#include <algorithm>

namespace petrel::dns {

std::chrono::seconds Cache::lifetime(Status status, std::chrono::seconds ttl) const {
    using std::chrono::seconds;
    switch (status) {
        case Status::Ok:
            return std::clamp(ttl, options_.min_ttl, std::max(options_.min_ttl, options_.max_ttl));
        case Status::NxDomain:
        case Status::NoData:
            // A zero TTL here means the server sent no SOA (dns/records.h).
            return std::min(ttl > seconds::zero() ? ttl : options_.negative_ttl,
                            options_.max_negative_ttl);
        case Status::BadName:
        case Status::Cancelled:
            return seconds::zero();
        default:
            return options_.temporary_ttl;
    }
}

std::string Cache::key(RecordType type, std::string_view name) {
    auto normal = query_name(name);
    std::string k = std::to_string(static_cast<unsigned>(type));
    k += ' ';
    k += normal ? *normal : std::string(name);
    return k;
}

Cache::Entry* Cache::find(const std::string& key, Clock::time_point now) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    if (it->second->expires <= now) {
        lru_.erase(it->second);
        index_.erase(it);
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return &lru_.front();
}

void Cache::insert(std::string key, Value value, Clock::time_point expires) {
    if (options_.max_entries == 0) return;
    auto it = index_.find(key);
    if (it != index_.end()) {
        it->second->value = std::move(value);
        it->second->expires = expires;
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    lru_.push_front(Entry{key, std::move(value), expires});
    index_.emplace(std::move(key), lru_.begin());
    while (lru_.size() > options_.max_entries) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
}

void Cache::clear() {
    lru_.clear();
    index_.clear();
}

}  // namespace petrel::dns
