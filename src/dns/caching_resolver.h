// dns/caching_resolver.h — a dns::Resolver that answers from a dns::Cache and asks another
// Resolver (normally CaresResolver) on a miss.
//
// Same contract as dns/resolver.h (io thread only, errors as values). The clock is injected so
// tests can expire entries without sleeping. Two lookups of the same name that miss at the
// same time both go upstream (no coalescing: c-ares answers them from one socket anyway).
// Trust: caches what the upstream resolver returned; decides nothing itself.
#pragma once

#include <functional>

#include "dns/cache.h"
#include "dns/resolver.h"

namespace petrel::dns {

class CachingResolver final : public Resolver {
public:
    using Now = std::function<Cache::Clock::time_point()>;

    // `upstream` must outlive this object.
    CachingResolver(Resolver& upstream, CacheOptions options, Now now = &Cache::Clock::now);

    boost::asio::awaitable<MxAnswer> mx(std::string name) override;
    boost::asio::awaitable<AddressAnswer> a(std::string name) override;
    boost::asio::awaitable<AddressAnswer> aaaa(std::string name) override;
    boost::asio::awaitable<TxtAnswer> txt(std::string name) override;
    boost::asio::awaitable<PtrAnswer> ptr(std::string name) override;

    Cache& cache() { return cache_; }

private:
    template <class T>
    boost::asio::awaitable<Answer<T>> cached(RecordType type, std::string name,
                                             boost::asio::awaitable<Answer<T>> (Resolver::*ask)(std::string));

    Resolver& upstream_;
    Cache cache_;
    Now now_;
};

}  // namespace petrel::dns
