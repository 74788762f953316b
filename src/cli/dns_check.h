// cli/dns_check.h — runs one DNS-driven check (`petrel check spf`, `petrel check dmarc`) to
// completion on a private io_context, over CaresResolver + CachingResolver built from the
// configuration's [dns] section (`dns_server`, when not empty, replaces its servers: the
// commands' --dns test seam).
// Trust: the configuration is the operator's; what the check does with DNS answers is its own.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "config/config.h"
#include "dns/caching_resolver.h"
#include "dns/cares_resolver.h"

namespace petrel::cli {

// `start(resolver)` gives the check's awaitable; its value, or nullopt if it threw.
template <class T>
std::optional<T> run_dns_check(const config::Config& cfg, const std::string& dns_server,
                               const std::function<boost::asio::awaitable<T>(dns::Resolver&)>& start) {
    dns::CaresOptions options{cfg.dns.servers, cfg.dns.timeout, cfg.dns.attempts};
    if (!dns_server.empty()) options.servers = {dns_server};
    boost::asio::io_context io;
    std::optional<T> out;
    {
        dns::CaresResolver cares(io.get_executor(), options);
        dns::CacheOptions cache_options;
        cache_options.max_entries = cfg.dns.cache_entries;
        dns::CachingResolver resolver(cares, cache_options);
        boost::asio::co_spawn(io, start(resolver), [&](std::exception_ptr e, T value) {
            if (!e) out = std::move(value);
        });
        io.run();
    }
    return out;
}

}  // namespace petrel::cli
