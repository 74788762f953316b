// delivery/client_stream.cpp — see client_stream.h.
#include "delivery/client_stream.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <tuple>

namespace petrel::delivery {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

ClientStream::ClientStream(asio::any_io_executor ex) : socket_(ex), deadline_(ex) {}

tcp::socket& ClientStream::lowest() { return tls_ ? tls_->next_layer() : socket_; }

void ClientStream::arm(std::chrono::milliseconds timeout) {
    timed_out_ = false;
    const uint64_t generation = ++generation_;
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
        if (ec || generation != self->generation_) return;  // re-armed or disarmed meanwhile
        self->timed_out_ = true;
        boost::system::error_code ignored;
        self->lowest().cancel(ignored);
    });
}

bool ClientStream::disarm() {
    ++generation_;
    deadline_.cancel();
    return timed_out_;
}

asio::awaitable<std::string> ClientStream::connect(tcp::endpoint ep, std::chrono::milliseconds timeout) {
    peer_ = ep.address().to_string();
    boost::system::error_code ec;
    socket_.open(ep.protocol(), ec);
    if (ec) co_return "cannot open socket: " + ec.message();
    arm(timeout);
    auto [cec] = co_await socket_.async_connect(ep, use_tuple);
    const bool fired = disarm();
    if (fired) co_return "connect timeout";
    if (cec) co_return cec.message();
    socket_.set_option(tcp::no_delay(true), ec);
    co_return std::string();
}

asio::awaitable<std::string> ClientStream::handshake(std::shared_ptr<ssl::context> ctx, std::string host,
                                                     bool verify, std::chrono::milliseconds timeout) {
    ctx_ = std::move(ctx);
    tls_.emplace(std::move(socket_), *ctx_);
    SSL* h = tls_->native_handle();
    // SNI (RFC 6066 §3) only for names, never for address literals.
    if (!host.empty() && host.find_first_not_of("0123456789.:") != std::string::npos) {
        SSL_set_tlsext_host_name(h, host.c_str());
    }
    if (verify) tls_->set_verify_callback(ssl::host_name_verification(host));
    arm(timeout);
    auto [ec] = co_await tls_->async_handshake(ssl::stream_base::client, use_tuple);
    const bool fired = disarm();
    if (fired) {
        tls_failed_ = true;
        co_return "TLS handshake timeout";
    }
    if (ec) {
        tls_failed_ = true;
        long vr = SSL_get_verify_result(h);
        if (verify && vr != X509_V_OK) {
            co_return std::string("certificate verification failed: ") +
                X509_verify_cert_error_string(vr);
        }
        co_return "TLS handshake failed: " + ec.message();
    }
    co_return std::string();
}

asio::awaitable<ClientStream::ReadResult> ClientStream::read_some(std::chrono::milliseconds timeout) {
    arm(timeout);
    boost::system::error_code ec;
    size_t n = 0;
    if (tls_) {
        std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(buffer_), use_tuple);
    } else {
        std::tie(ec, n) = co_await socket_.async_read_some(asio::buffer(buffer_), use_tuple);
    }
    const bool fired = disarm();
    if (!ec) co_return ReadResult{ReadStatus::Data, std::string_view(buffer_.data(), n)};
    if (fired) co_return ReadResult{ReadStatus::Timeout, {}};
    co_return ReadResult{ReadStatus::Closed, {}};
}

asio::awaitable<bool> ClientStream::write_all(std::string_view data, std::chrono::milliseconds timeout) {
    if (data.empty()) co_return true;
    arm(timeout);
    boost::system::error_code ec;
    if (tls_) {
        std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(data), use_tuple);
    } else {
        std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(data), use_tuple);
    }
    disarm();
    co_return !ec;
}

asio::awaitable<void> ClientStream::close() {
    boost::system::error_code ignored;
    if (tls_ && !tls_failed_) {
        arm(std::chrono::seconds(1));  // close_notify; do not wait long for the peer's
        co_await tls_->async_shutdown(use_tuple);
        disarm();
    }
    auto& s = lowest();
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
}

std::string ClientStream::tls_description() const {
    if (!tls_) return "";
    SSL* h = const_cast<ssl::stream<tcp::socket>&>(*tls_).native_handle();
    return std::string(SSL_get_version(h)) + " " + SSL_get_cipher_name(h);
}

}  // namespace petrel::delivery
