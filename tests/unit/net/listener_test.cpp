// Tests for net/listener: address parsing, binding port 0, IPv4+IPv6 side by side, bind errors.
#include "net/listener.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <system_error>

namespace petrel::net {
namespace {

TEST(ParseHostPort, AcceptsV4V6AndNames) {
    auto a = parse_host_port("127.0.0.1:2525");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 2525);
    auto b = parse_host_port("[::1]:25");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 25);
    auto c = parse_host_port("mx.example.test:0");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->port, 0);
}

TEST(ParseHostPort, RejectsMalformed) {
    for (const char* bad : {"", "127.0.0.1", ":25", "127.0.0.1:", "::1:25", "[::1]25", "[::1]:",
                            "host:65536", "host:-1", "host:25x", "[::1:25"}) {
        EXPECT_FALSE(parse_host_port(bad)) << bad;
    }
}

TEST(Listener, PortZeroReportsRealPort) {
    boost::asio::io_context io;
    Listener l(io, "mx", "127.0.0.1", 0);
    auto hp = parse_host_port(l.local_address());
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "127.0.0.1");
    EXPECT_NE(hp->port, 0);
}

TEST(Listener, BindErrorNamesTheAddress) {
    boost::asio::io_context io;
    Listener first(io, "mx", "127.0.0.1", 0);
    auto port = parse_host_port(first.local_address())->port;
    try {
        Listener second(io, "submission", "127.0.0.1", port);
        FAIL() << "second bind succeeded";
    } catch (const std::system_error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("submission 127.0.0.1:" + std::to_string(port)), std::string::npos)
            << what;
    }
}

TEST(Listener, V4AndV6OnTheSamePort) {
    boost::asio::io_context io;
    Listener v4(io, "mx", "0.0.0.0", 0);
    auto port = parse_host_port(v4.local_address())->port;
    std::unique_ptr<Listener> v6;
    try {
        v6 = std::make_unique<Listener>(io, "mx", "::", port);
    } catch (const std::system_error& e) {
        if (e.code().value() == EAFNOSUPPORT || e.code().value() == EADDRNOTAVAIL) {
            GTEST_SKIP() << "no IPv6 here: " << e.what();
        }
        throw;
    }
    EXPECT_EQ(v6->local_address(), "[::]:" + std::to_string(port));
}

TEST(FormatEndpoint, MapsV4MappedToV4) {
    using boost::asio::ip::tcp;
    auto mapped = boost::asio::ip::make_address("::ffff:192.0.2.7");
    EXPECT_EQ(address_string(tcp::endpoint(mapped, 25)), "192.0.2.7");
    EXPECT_EQ(format_endpoint(tcp::endpoint(boost::asio::ip::make_address("::1"), 25)),
              "[::1]:25");
}

}  // namespace
}  // namespace petrel::net
