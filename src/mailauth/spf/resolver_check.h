// mailauth/spf/resolver_check.h — runs the pure SPF evaluator (check_host.h) against the real
// asynchronous dns::Resolver: the one place in spf/ that awaits.
//
// How: evaluate with the answers known so far (an AnswerMemo implementing spf::Lookups); when
// the evaluator reports `pending`, await every question it asked that has no answer yet, then
// evaluate again (lookups.h explains why replaying is cheap and terminates). Each question is
// asked of the resolver once per check. Lookups are awaited one after the other, as pyspf and
// libspf2 do; a check costs as many round trips as a sequential evaluator.
// Deadline: every resolver lookup completes (dns/resolver.h), and the questions are bounded
// by the RFC 7208 §4.6.4 limits, so a check ends; `max_rounds` is a second bound. RFC 7208
// §4.6.4's 20-second overall budget is the caller's to impose if it wants a shorter one.
// Threads: as dns::Resolver (io thread only).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "dns/resolver.h"
#include "mailauth/spf/check_host.h"

namespace petrel::mailauth::spf {

boost::asio::awaitable<Outcome> check_mail_from(dns::Resolver& resolver, Request request,
                                                Limits limits = {});
boost::asio::awaitable<Outcome> check_helo(dns::Resolver& resolver, Request request,
                                           Limits limits = {});

}  // namespace petrel::mailauth::spf
