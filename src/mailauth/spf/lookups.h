// mailauth/spf/lookups.h — the DNS questions the SPF evaluator asks, as a synchronous interface.
//
// Why synchronous: check_host (check_host.h) stays pure, plain C++ that unit tests, the
// conformance suite and the fuzzer call without an io_context. The evaluator is
// deterministic, so an asynchronous caller need not suspend it: a lookup whose answer is not
// known yet returns nullptr, the evaluator stops and says `pending`, the caller fetches every
// name it asked for (resolver_check.h does this with dns::Resolver) and runs it again with
// those answers known. Each run asks at least one new question and the RFC 7208 §4.6.4 limits
// bound the questions (about 130 at most), so the replays end.
//
// Contract: answers are dns::Answer values with the meaning of dns/records.h (NxDomain and
// NoData permanent, the rest temporary). A returned pointer stays valid until the evaluation
// returns. `name` is as the evaluator built it (possibly upper case or with a trailing dot,
// possibly not a valid DNS name: then the answer is BadName, which counts as non-existent).
// Records of a CNAME's target are the name's own. Not thread-safe; one evaluation at a time.
#pragma once

#include <string>

#include "dns/records.h"

namespace petrel::mailauth::spf {

class Lookups {
public:
    virtual ~Lookups() = default;

    virtual const dns::TxtAnswer* txt(const std::string& name) = 0;
    virtual const dns::AddressAnswer* a(const std::string& name) = 0;
    virtual const dns::AddressAnswer* aaaa(const std::string& name) = 0;
    virtual const dns::MxAnswer* mx(const std::string& name) = 0;
    virtual const dns::PtrAnswer* ptr(const std::string& name) = 0;  // name: "4.3.2.1.in-addr.arpa"
};

}  // namespace petrel::mailauth::spf
