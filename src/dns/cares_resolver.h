// dns/cares_resolver.h — dns::Resolver over c-ares, driven by the io_context (no extra thread).
//
// c-ares owns the sockets and the wire (queries, retries, failover between servers, TCP on a
// truncated reply, EDNS0 with a 1232-byte payload so long TXT records such as DKIM keys usually
// fit in UDP); petrel watches the sockets c-ares asks it to watch (its socket-state callback)
// with posix::stream_descriptor::async_wait and keeps one steady_timer on ares_timeout(), then
// calls ares_process_fd. Answers are read by dns/message.h.
// Lifecycle, threads and error meaning: see dns/resolver.h. Construction throws
// std::runtime_error (start-up only) when c-ares cannot start or a server is malformed.
// Trust: servers come from the operator's config; every answer is untrusted network input.
// RFCs: 1035 (queries, class IN), 6891 (EDNS0), 7766 (TCP fallback: done by c-ares).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "dns/resolver.h"

namespace petrel::dns {

struct CaresOptions {
    // "ip:port", "ip" (port 53) or "[v6]:port". Empty: the nameservers of /etc/resolv.conf.
    // Also the test seam that points petrel at a DNS server on loopback (STYLE §12).
    std::vector<std::string> servers;
    // Wait for one try at one server. c-ares doubles it after each round over the servers.
    std::chrono::milliseconds timeout{2000};
    unsigned attempts = 2;  // rounds over the server list before Status::Timeout
};

class CaresResolver final : public Resolver {
public:
    CaresResolver(boost::asio::any_io_executor executor, CaresOptions options);
    ~CaresResolver() override;
    CaresResolver(const CaresResolver&) = delete;
    CaresResolver& operator=(const CaresResolver&) = delete;

    boost::asio::awaitable<MxAnswer> mx(std::string name) override;
    boost::asio::awaitable<AddressAnswer> a(std::string name) override;
    boost::asio::awaitable<AddressAnswer> aaaa(std::string name) override;
    boost::asio::awaitable<TxtAnswer> txt(std::string name) override;
    boost::asio::awaitable<PtrAnswer> ptr(std::string name) override;

    // The servers in use, "ip:port,..." (for the start-up log line and tests).
    std::string servers() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace petrel::dns
