// mailauth/dkim/dns_verify.cpp — see dns_verify.h.
#include "mailauth/dkim/dns_verify.h"

#include <map>
#include <vector>

namespace petrel::mailauth::dkim {

boost::asio::awaitable<VerifyReport> verify_with_dns(dns::Resolver& resolver, std::string message,
                                                     VerifyOptions options) {
    std::map<std::string, KeyLookup> answers;
    std::vector<std::string> names = key_names(message, options);
    for (std::string& name : names) {
        // Two steps: a temporary inside a co_await expression crashes g++ 12 (GOTCHAS.md).
        auto op = resolver.txt(name);
        dns::TxtAnswer ans = co_await std::move(op);
        KeyLookup lookup;
        lookup.status = ans.status;
        for (auto& r : ans.records) lookup.records.push_back(std::move(r.text));
        answers.emplace(std::move(name), std::move(lookup));
    }
    KeyFetcher fetch = [&answers](const std::string& name) {
        auto it = answers.find(name);
        if (it == answers.end()) return KeyLookup{dns::Status::NxDomain, {}};
        return it->second;
    };
    co_return verify(message, fetch, options);
}

}  // namespace petrel::mailauth::dkim
