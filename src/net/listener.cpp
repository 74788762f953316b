// net/listener.cpp — TCP acceptors for the SMTP listeners (see listener.h).
#include "net/listener.h"

#include <charconv>
#include <system_error>

#include <boost/asio/ip/v6_only.hpp>

namespace petrel::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Linux caps this at net.core.somaxconn (4096 by default since 5.4).
constexpr int kBacklog = 4096;

[[noreturn]] void throw_bind_error(const boost::system::error_code& ec, const std::string& label,
                                   const std::string& host, uint16_t port) {
    std::string addr = host.find(':') != std::string::npos
                           ? "[" + host + "]:" + std::to_string(port)
                           : host + ":" + std::to_string(port);
    throw std::system_error(std::error_code(ec.value(), std::system_category()),
                            "cannot listen on " + label + " " + addr);
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view spec) {
    HostPort out;
    std::string_view port_part;
    if (!spec.empty() && spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
            return std::nullopt;
        }
        out.host = std::string(spec.substr(1, close - 1));
        port_part = spec.substr(close + 2);
    } else {
        auto colon = spec.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        out.host = std::string(spec.substr(0, colon));
        if (out.host.find(':') != std::string::npos) return std::nullopt;  // v6 needs brackets
        port_part = spec.substr(colon + 1);
    }
    if (out.host.empty() || port_part.empty() || port_part.size() > 5) return std::nullopt;
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_part.data(), port_part.data() + port_part.size(), value);
    if (ec != std::errc() || ptr != port_part.data() + port_part.size() || value > 65535) {
        return std::nullopt;
    }
    out.port = static_cast<uint16_t>(value);
    return out;
}

std::string address_string(const tcp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
    }
    return a.to_string();
}

std::string format_endpoint(const tcp::endpoint& ep) {
    std::string host = address_string(ep);
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return host + ":" + std::to_string(ep.port());
}

Listener::Listener(asio::io_context& io, const std::string& label, const std::string& host,
                   uint16_t port)
    : acceptor_(io) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) {
        // Not an IP literal: resolve the name once, at start-up.
        tcp::resolver resolver(io);
        auto results = resolver.resolve(host, std::to_string(port), ec);
        if (ec || results.empty()) throw_bind_error(ec, label, host, port);
        address = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(address, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    // IPV6_V6ONLY: "[::]:25" must not claim the IPv4 port too, so both can be configured.
    if (!ec && address.is_v6()) acceptor_.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(kBacklog, ec);
    if (ec) {
        acceptor_.close();
        throw_bind_error(ec, label, host, port);
    }
    local_address_ = format_endpoint(acceptor_.local_endpoint(ec));
}

void Listener::close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

}  // namespace petrel::net
