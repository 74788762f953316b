// net/listener.h — binds the TCP acceptors the SMTP listeners accept on.
//
// Addresses are "host:port" or "[v6]:port" (the config's `address` syntax); port 0 asks the
// kernel for a free port, and `local_address()` reports the real one. IPv6 sockets are bound
// with IPV6_V6ONLY so "0.0.0.0:25" and "[::]:25" can both be listened on. SO_REUSEADDR is set
// (a restart must not wait for TIME_WAIT) and the backlog is large (bursts of connections).
// Trust: addresses come from the operator's config; a host that is not an IP literal is
// resolved once at start-up. Errors at start-up throw std::system_error naming the address.
// This header includes Asio: only net/ and server/ include it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>

namespace petrel::net {

struct HostPort {
    std::string host;  // without brackets
    uint16_t port = 0;
};

// "127.0.0.1:25" / "[::1]:25" / "mx.example.test:25". nullopt when malformed.
std::optional<HostPort> parse_host_port(std::string_view spec);

// "127.0.0.1:2525" or "[::1]:2525".
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

// The textual address of `ep` without brackets or port; IPv4-mapped IPv6 shown as IPv4.
std::string address_string(const boost::asio::ip::tcp::endpoint& ep);

class Listener {
public:
    // Opens, configures and binds an acceptor and starts listening. `label` (e.g. "mx") only
    // goes into error messages. Throws std::system_error naming label and address.
    Listener(boost::asio::io_context& io, const std::string& label, const std::string& host,
             uint16_t port);

    boost::asio::ip::tcp::acceptor& acceptor() { return acceptor_; }
    // The bound address with the real port ("127.0.0.1:40123").
    const std::string& local_address() const { return local_address_; }
    void close();

private:
    boost::asio::ip::tcp::acceptor acceptor_;
    std::string local_address_;
};

}  // namespace petrel::net
