// dns/resolver.h — the interface delivery/ and mailauth/ ask DNS questions through.
//
// Why awaitables: delivery is written as Asio coroutines, so `co_await resolver.mx(domain)`
// reads top to bottom with the answer as a plain value; a callback API would force every
// caller to write its own adapter. Pure code (mailauth/) does not call this: it takes the
// `Answer` values of dns/records.h as input.
//
// Contract for every implementation:
//  - Lifecycle: construct, use, destroy after the io_context has stopped running its
//    coroutines (or after every lookup has completed). Destroying it with lookups pending
//    completes them with Status::Cancelled when the io_context runs again.
//  - Threads: not thread-safe. Call it only from the io_context thread it was built on (one
//    io thread, docs/architecture.md); the awaitables resume on the awaiting coroutine's
//    executor.
//  - Errors are values, never exceptions: each lookup completes with an `Answer` whose status
//    says whether the failure is permanent (NxDomain, NoData, BadName) or temporary (server
//    failure, timeout, unreachable, malformed, cancelled). Delivery defers on temporary and
//    bounces on permanent; NoData for MX means "use the domain's address" (RFC 5321 §5.1).
//  - Deadlines: a lookup always completes; at the latest after the implementation's own
//    timeout budget (for CaresResolver: timeout × 2^k summed over `attempts` rounds per server).
//    Lookups are not individually cancellable.
//  - Names: as given (A-labels); a trailing dot is optional; case does not matter.
//  - Records of a name's CNAME target are returned as the name's own (the server follows it).
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "dns/records.h"

namespace petrel::dns {

class Resolver {
public:
    virtual ~Resolver() = default;

    virtual boost::asio::awaitable<MxAnswer> mx(std::string name) = 0;
    virtual boost::asio::awaitable<AddressAnswer> a(std::string name) = 0;     // IPv4
    virtual boost::asio::awaitable<AddressAnswer> aaaa(std::string name) = 0;  // IPv6
    virtual boost::asio::awaitable<TxtAnswer> txt(std::string name) = 0;
    // `name` is the reverse name (dns::reverse_name: "4.3.2.1.in-addr.arpa"). Used by SPF's
    // "ptr" mechanism and %{p} macro (RFC 7208 §5.5, §7.3). Not pure, so resolvers written
    // before PTR existed (test fakes) still compile: they answer a temporary failure.
    virtual boost::asio::awaitable<PtrAnswer> ptr(std::string name) {
        co_return PtrAnswer{Status::Refused, {}, {}, false};
    }
};

}  // namespace petrel::dns
