// mailauth/key_prefetch.h — key records looked up through dns::Resolver before a pure verifier
// runs (DKIM and ARC both check signatures against "selector._domainkey.domain" TXT records).
//
// The verifiers (dkim/verifier.h, arc/verifier.h) are pure and take a dkim::KeyFetcher; their
// async shells list the names they need, await them here one after the other (each bounded by
// the resolver's own deadline), then run on the answers. Threads and lifetime: as
// dns::Resolver (its io thread only). A name that was not fetched answers NXDOMAIN.
// RFC 6376 §3.6.2 (the DNS binding: TXT strings concatenated), §6.1.2 (temporary failure).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "dns/resolver.h"
#include "mailauth/dkim/verifier.h"

namespace petrel::mailauth {

struct PrefetchedKeys {
    std::map<std::string, dkim::KeyLookup> answers;
    // A fetcher over `answers`; it refers to this object, which must outlive it.
    dkim::KeyFetcher fetcher() const;
};

boost::asio::awaitable<PrefetchedKeys> prefetch_keys(dns::Resolver& resolver, std::vector<std::string> names);

}  // namespace petrel::mailauth
