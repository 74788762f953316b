// dns/mx_lookup.cpp — MX query, host choice, address queries, plan (see mx_lookup.h).
#include "dns/mx_lookup.h"

namespace petrel::dns {

namespace asio = boost::asio;

asio::awaitable<MxPlan> plan_mx(Resolver& resolver, std::string domain, PlanOptions options,
                                std::mt19937_64& rng) {
    // Named awaitables throughout: g++ 12 mishandles temporaries inside a co_await (PR 99576).
    auto mx_op = resolver.mx(domain);
    MxAnswer mx = co_await std::move(mx_op);
    HostList hosts = choose_hosts(domain, mx, options, rng);

    std::vector<HostAddresses> addresses(hosts.hosts.size());
    for (size_t i = 0; i < hosts.hosts.size(); ++i) {
        const MxHost& h = hosts.hosts[i];
        HostAddresses& out = addresses[i];
        out.a.status = out.aaaa.status = Status::NoData;
        if (h.literal) continue;
        if (options.families != Families::Ipv6Only) {
            auto op = resolver.a(h.name);
            out.a = co_await std::move(op);
        }
        if (options.families != Families::Ipv4Only) {
            auto op = resolver.aaaa(h.name);
            out.aaaa = co_await std::move(op);
        }
    }
    co_return finish_plan(hosts, addresses, options);
}

}  // namespace petrel::dns
