// mailauth/dkim/dns_verify.h — DKIM verification with keys fetched through dns::Resolver.
//
// The thin async shell around the pure verifier (verifier.h): it looks up the TXT records of
// each signature's "selector._domainkey.domain" (at most VerifyOptions::max_signatures
// names, one after the other, each bounded by the resolver's own deadline), then runs
// `verify` on the answers. Threads and lifetime: as dns::Resolver (its io thread only).
// RFC 6376 §3.6.2 (the DNS binding), §6.1.2 (temporary failure → temperror).
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "dns/resolver.h"
#include "mailauth/dkim/verifier.h"

namespace petrel::mailauth::dkim {

boost::asio::awaitable<VerifyReport> verify_with_dns(dns::Resolver& resolver, std::string message,
                                                     VerifyOptions options);

}  // namespace petrel::mailauth::dkim
