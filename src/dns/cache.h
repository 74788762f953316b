// dns/cache.h — a bounded cache of DNS answers that honours their TTLs, positive and negative.
//
// Pure code: no I/O, no clock of its own (every call takes `now`, so tests move time by hand).
// What is cached and for how long:
//  - records: their TTL clamped to [min_ttl, max_ttl] (a floor stops a zero-TTL name from being
//    asked once per message; a cap bounds how long a changed record is missed);
//  - NXDOMAIN and NoData (RFC 2308 §5): the negative TTL the server's SOA gave (min of the SOA's
//    TTL and MINIMUM), or `negative_ttl` when it gave none, capped at `max_negative_ttl`
//    (RFC 2308 §5 suggests at most 1 to 3 hours);
//  - temporary failures: for `temporary_ttl` (RFC 2308 §7.1 allows up to 5 minutes); 0, the
//    default, does not cache them: the next delivery attempt asks again;
//  - BadName and Cancelled: never.
// Bounded by `max_entries`: the least recently used entry goes first. Keys are (type, name as
// dns::query_name normalizes it). A hit reports the TTL left, and from_cache = true.
// Not thread-safe: one owner (the io thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "dns/records.h"

namespace petrel::dns {

struct CacheOptions {
    size_t max_entries = 10000;
    std::chrono::seconds min_ttl{5};
    std::chrono::seconds max_ttl{86400};
    std::chrono::seconds negative_ttl{300};
    std::chrono::seconds max_negative_ttl{10800};
    std::chrono::seconds temporary_ttl{0};
};

class Cache {
public:
    using Clock = std::chrono::steady_clock;

    explicit Cache(CacheOptions options = {}) : options_(options) {}

    template <class T>
    std::optional<Answer<T>> get(RecordType type, std::string_view name, Clock::time_point now) {
        Entry* e = find(key(type, name), now);
        if (!e) return std::nullopt;
        const auto* a = std::get_if<Answer<T>>(&e->value);
        if (!a) return std::nullopt;
        Answer<T> out = *a;
        out.ttl = std::chrono::ceil<std::chrono::seconds>(e->expires - now);
        out.from_cache = true;
        return out;
    }

    template <class T>
    void put(RecordType type, std::string_view name, const Answer<T>& answer, Clock::time_point now) {
        auto life = lifetime(answer.status, answer.ttl);
        if (life <= std::chrono::seconds::zero()) return;
        insert(key(type, name), Value(answer), now + life);
    }

    // How long an answer with this status and TTL is kept (zero: not cached).
    std::chrono::seconds lifetime(Status status, std::chrono::seconds ttl) const;

    size_t size() const { return lru_.size(); }
    void clear();

private:
    using Value = std::variant<MxAnswer, TxtAnswer, AddressAnswer, PtrAnswer>;
    struct Entry {
        std::string key;
        Value value;
        Clock::time_point expires;
    };

    static std::string key(RecordType type, std::string_view name);
    Entry* find(const std::string& key, Clock::time_point now);
    void insert(std::string key, Value value, Clock::time_point expires);

    CacheOptions options_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace petrel::dns
