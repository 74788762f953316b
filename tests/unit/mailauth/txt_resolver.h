// tests/unit/mailauth/txt_resolver.h — a dns::Resolver over an in-memory map of TXT records,
// for tests of the inbound checks (mailauth/inbound_check.h, server/inbound_auth.h). Every
// TXT answer goes through the io_context (asio::post), so each lookup really suspends the
// check, as with the real resolver.
#pragma once

#include <map>
#include <string>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "dns/resolver.h"

namespace petrel::mailauth::testing {

// TXT records by name; every other question is NXDOMAIN. `down`: every lookup times out.
class TxtResolver : public dns::Resolver {
public:
    std::map<std::string, std::string> txt_records;
    bool down = false;
    int asked = 0;

    boost::asio::awaitable<dns::MxAnswer> mx(std::string) override { co_return none<dns::MxRecord>(); }
    boost::asio::awaitable<dns::AddressAnswer> a(std::string) override { co_return none<dns::IpAddress>(); }
    boost::asio::awaitable<dns::AddressAnswer> aaaa(std::string) override { co_return none<dns::IpAddress>(); }
    boost::asio::awaitable<dns::TxtAnswer> txt(std::string name) override {
        ++asked;
        auto ex = co_await boost::asio::this_coro::executor;
        co_await boost::asio::post(ex, boost::asio::use_awaitable);
        dns::TxtAnswer ans = none<dns::TxtRecord>();
        auto it = txt_records.find(name);
        if (!down && it != txt_records.end()) {
            ans.status = dns::Status::Ok;
            dns::TxtRecord r;
            r.text = it->second;
            r.strings = {it->second};
            ans.records.push_back(r);
        }
        co_return ans;
    }

private:
    template <class T>
    dns::Answer<T> none() const {
        dns::Answer<T> a;
        a.status = down ? dns::Status::Timeout : dns::Status::NxDomain;
        return a;
    }
};

}  // namespace petrel::mailauth::testing
