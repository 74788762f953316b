// delivery/client_stream.h — one outbound TCP connection, plain or TLS (STARTTLS or implicit),
// with a deadline on every operation.
//
// The deadline is a watchdog steady_timer that cancels the socket's pending operation when it
// fires, as server/connection.cpp does (a generation counter keeps a stale expiry from
// cancelling a later operation). Errors are values (as_tuple): nothing here throws on the
// data path. Trust: bytes read are the peer's; they go to the pure smtp::ClientSession only.
// TLS: RFC 3207 (STARTTLS: the caller hands over the plain socket after the 220), RFC 8314 §3
// (implicit TLS); SNI always; with `verify`, the chain and the host name are checked
// (RFC 6125 via OpenSSL's X509_check_host). Internal to delivery/: includes Asio.
// Lifecycle: always held by shared_ptr (the watchdog keeps it alive while armed); io thread only.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

namespace petrel::delivery {

class ClientStream : public std::enable_shared_from_this<ClientStream> {
public:
    enum class ReadStatus { Data, Timeout, Closed };
    struct ReadResult {
        ReadStatus status = ReadStatus::Closed;
        std::string_view data;  // valid until the next read
    };

    explicit ClientStream(boost::asio::any_io_executor ex);

    // "" on success, else why (for the log and the deferral reply).
    boost::asio::awaitable<std::string> connect(boost::asio::ip::tcp::endpoint ep,
                                                std::chrono::milliseconds timeout);
    boost::asio::awaitable<std::string> handshake(std::shared_ptr<boost::asio::ssl::context> ctx,
                                                  std::string host, bool verify,
                                                  std::chrono::milliseconds timeout);
    boost::asio::awaitable<ReadResult> read_some(std::chrono::milliseconds timeout);
    boost::asio::awaitable<bool> write_all(std::string_view data, std::chrono::milliseconds timeout);
    boost::asio::awaitable<void> close();

    bool tls() const { return tls_.has_value(); }
    std::string tls_description() const;  // "TLSv1.3 TLS_AES_256_GCM_SHA384"
    std::string peer() const { return peer_; }

private:
    boost::asio::ip::tcp::socket& lowest();
    void arm(std::chrono::milliseconds timeout);
    bool disarm();  // true when the deadline fired

    boost::asio::ip::tcp::socket socket_;
    std::shared_ptr<boost::asio::ssl::context> ctx_;
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
    boost::asio::steady_timer deadline_;
    uint64_t generation_ = 0;
    bool timed_out_ = false;
    bool tls_failed_ = false;
    std::string peer_;
    std::array<char, 16 * 1024> buffer_{};
};

}  // namespace petrel::delivery
