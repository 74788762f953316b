// server/connection.h — one inbound SMTP connection: a coroutine that moves bytes between a
// socket (plain, or TLS after STARTTLS / from the first byte on submissions) and a pure
// smtp::ServerSession, and answers the session's requests (TLS, AUTH, commit).
//
// Trust: everything read from the socket is peer bytes; they go only to the session (which
// enforces smtp::Limits) and to logs through base::escape_for_log. The coroutine never throws on
// the data path: every await uses as_tuple, and every await on the peer has a deadline
// (RFC 5321 §4.5.3.2 via session.read_timeout(); writes and TLS handshakes have their own).
// Threading: a Connection lives on the io_context thread; AUTH verification runs on the verify
// pool and spool commits on a spool thread, and both post their result back here.
// RFC 3207 (STARTTLS), RFC 8314 §3 (implicit TLS), RFC 4954 (AUTH), RFC 5321 §4.4 (Received),
// RFC 8601 (Authentication-Results on mx mail, via server/inbound_auth.h).
// Internal to server/: includes Asio.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "config/config.h"
#include "dns/resolver.h"
#include "net/tls.h"
#include "policy/auth_throttle.h"
#include "queue/spool.h"
#include "smtp/server_session.h"
#include "store/credentials.h"

namespace petrel::server {

// What every connection of one server shares. Everything here is used on the io thread only,
// except `credentials` (thread-safe, called on the verify pool) and `spool` (thread-safe).
// `resolver` (io thread only) is for the mx listener's authentication checks
// (server/inbound_auth.h); without one, mx mail is accepted unchecked (unit tests).
struct ServerContext {
    boost::asio::io_context& io;
    const config::Config& cfg;
    net::TlsContexts& tls;
    queue::Spool& spool;
    store::Credentials& credentials;
    smtp::SessionPolicy& policy;
    policy::AuthThrottle& throttle;
    boost::asio::thread_pool& verify_pool;
    dns::Resolver* resolver = nullptr;
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(ServerContext& ctx, boost::asio::ip::tcp::socket socket,
               config::ListenerKind kind, smtp::SessionConfig session_config,
               std::string client_ip, uint16_t client_port);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // The whole life of the connection; returns when it is closed. Never throws on peer input.
    boost::asio::awaitable<void> run();

    // Asks the connection to end: a pending read is cancelled, and the client gets
    // "421 4.3.2" before the close. An AUTH check or a commit in flight is finished first.
    // io thread only.
    void request_stop();

    const std::string& session_id() const { return sid_; }
    const std::string& client_ip() const { return client_ip_; }

private:
    enum class ReadStatus { Data, Timeout, Closed, Stopped };
    struct ReadResult {
        ReadStatus status = ReadStatus::Closed;
        std::string_view data;  // valid until the next co_await
    };

    boost::asio::awaitable<ReadResult> read_some();
    boost::asio::awaitable<bool> write_all(std::string_view data);
    boost::asio::awaitable<bool> handshake();  // TLS server handshake with a deadline
    boost::asio::awaitable<smtp::Output> authenticate(smtp::AuthRequest request);
    boost::asio::awaitable<smtp::Output> commit(smtp::AcceptedMessage message);
    boost::asio::awaitable<void> close_stream();

    // Deadline watchdog: cancels the socket's pending operation when it fires.
    void arm(std::chrono::milliseconds timeout);
    bool disarm();  // true when the deadline fired since arm()
    boost::asio::ip::tcp::socket& lowest();
    void log_events(const smtp::Output& out) const;
    std::string tag() const;  // "sid=... " plus "qid=..." when known

    ServerContext& ctx_;
    boost::asio::ip::tcp::socket socket_;  // moved into tls_ once TLS starts
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
    std::unique_ptr<char[]> tls_buffer_;  // only while TLS is on (plain reads share one buffer)
    boost::asio::steady_timer deadline_;
    uint64_t deadline_generation_ = 0;
    bool timed_out_ = false;
    bool reading_ = false;
    bool stop_requested_ = false;
    bool tls_failed_ = false;  // handshake failed: no close_notify
    config::ListenerKind kind_;
    smtp::SessionConfig session_config_;
    std::string sid_;
    std::string qid_;  // the current (or last) message's queue ID, for log lines
    std::string client_ip_;
    uint16_t client_port_;
    std::optional<smtp::ServerSession> session_;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace petrel::server
