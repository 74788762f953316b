// dns/caching_resolver.cpp — cache lookup, then the upstream resolver (see caching_resolver.h).
#include "dns/caching_resolver.h"

namespace petrel::dns {

namespace asio = boost::asio;

CachingResolver::CachingResolver(Resolver& upstream, CacheOptions options, Now now)
    : upstream_(upstream), cache_(options), now_(std::move(now)) {}

template <class T>
asio::awaitable<Answer<T>> CachingResolver::cached(RecordType type, std::string name,
                                                   asio::awaitable<Answer<T>> (Resolver::*ask)(std::string)) {
    auto qname = query_name(name);
    if (!qname) co_return Answer<T>{Status::BadName, {}, {}, false};
    if (auto hit = cache_.get<T>(type, *qname, now_())) co_return std::move(*hit);
    // A named awaitable: g++ 12 mishandles temporaries inside a co_await (GCC PR 99576).
    auto op = (upstream_.*ask)(*qname);
    Answer<T> answer = co_await std::move(op);
    cache_.put(type, *qname, answer, now_());
    co_return answer;
}

asio::awaitable<MxAnswer> CachingResolver::mx(std::string name) {
    return cached<MxRecord>(RecordType::Mx, std::move(name), &Resolver::mx);
}
asio::awaitable<AddressAnswer> CachingResolver::a(std::string name) {
    return cached<IpAddress>(RecordType::A, std::move(name), &Resolver::a);
}
asio::awaitable<AddressAnswer> CachingResolver::aaaa(std::string name) {
    return cached<IpAddress>(RecordType::Aaaa, std::move(name), &Resolver::aaaa);
}
asio::awaitable<TxtAnswer> CachingResolver::txt(std::string name) {
    return cached<TxtRecord>(RecordType::Txt, std::move(name), &Resolver::txt);
}
asio::awaitable<PtrAnswer> CachingResolver::ptr(std::string name) {
    return cached<PtrRecord>(RecordType::Ptr, std::move(name), &Resolver::ptr);
}

}  // namespace petrel::dns
