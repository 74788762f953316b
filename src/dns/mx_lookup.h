// dns/mx_lookup.h — the whole RFC 5321 §5.1 lookup for a mail domain: MX, then the addresses of
// each chosen host, combined by the pure rules of dns/mx_plan.h.
//
// Delivery calls this once per destination domain (through a CachingResolver, so repeated
// plans cost no queries). Address lookups run one after another, at most 2 × max_hosts of
// them; each is bounded by the resolver's timeout. Errors are values: MxPlan::status.
// Trust: domain is an A-label (mail::normalize_domain); answers are untrusted DNS data.
#pragma once

#include <random>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "dns/mx_plan.h"
#include "dns/resolver.h"

namespace petrel::dns {

// `resolver` and `rng` must outlive the returned awaitable.
boost::asio::awaitable<MxPlan> plan_mx(Resolver& resolver, std::string domain, PlanOptions options,
                                       std::mt19937_64& rng);

}  // namespace petrel::dns
