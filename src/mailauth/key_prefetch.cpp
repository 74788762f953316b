// mailauth/key_prefetch.cpp — see key_prefetch.h.
#include "mailauth/key_prefetch.h"

namespace petrel::mailauth {

dkim::KeyFetcher PrefetchedKeys::fetcher() const {
    return [this](const std::string& name) {
        auto it = answers.find(name);
        if (it == answers.end()) return dkim::KeyLookup{dns::Status::NxDomain, {}};
        return it->second;
    };
}

boost::asio::awaitable<PrefetchedKeys> prefetch_keys(dns::Resolver& resolver, std::vector<std::string> names) {
    PrefetchedKeys keys;
    for (std::string& name : names) {
        if (keys.answers.count(name)) continue;
        // Two steps: a temporary inside a co_await expression crashes g++ 12 (GOTCHAS.md).
        auto op = resolver.txt(name);
        dns::TxtAnswer ans = co_await std::move(op);
        dkim::KeyLookup lookup;
        lookup.status = ans.status;
        for (auto& r : ans.records) lookup.records.push_back(std::move(r.text));
        keys.answers.emplace(std::move(name), std::move(lookup));
    }
    co_return keys;
}

}  // namespace petrel::mailauth
