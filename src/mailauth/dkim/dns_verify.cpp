// mailauth/dkim/dns_verify.cpp — see dns_verify.h.
#include "mailauth/dkim/dns_verify.h"

#include <vector>

#include "mailauth/key_prefetch.h"

namespace petrel::mailauth::dkim {

boost::asio::awaitable<VerifyReport> verify_with_dns(dns::Resolver& resolver, std::string message,
                                                     VerifyOptions options) {
    std::vector<std::string> names = key_names(message, options);
    auto op = prefetch_keys(resolver, std::move(names));  // two steps: g++ 12 (GOTCHAS.md)
    PrefetchedKeys keys = co_await std::move(op);
    KeyFetcher fetch = keys.fetcher();
    co_return verify(message, fetch, options);
}

}  // namespace petrel::mailauth::dkim
