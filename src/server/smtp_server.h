// server/smtp_server.h — petrel's inbound SMTP service: every configured listener (mx,
// submission, submissions), the connection limits, and one coroutine per connection that runs
// an smtp::ServerSession over net/ (see server/connection.h and docs/architecture.md).
//
// Trust: peers are untrusted; limits come from the validated config. Over the global
// (max_connections) or per-IP (max_connections_per_ip) limit a new connection gets
// "421 4.7.0 Too many connections from your address" (RFC 5321 §3.8, §4.2.5) and is closed
// before any session exists.
// Threading: everything runs on the io_context's thread (run it on one thread); only password
// verification (argon2id) runs on a small internal pool, and spool completions arrive on the
// spool's thread; both are posted back to the io thread.
// Lifecycle: construct → bind() (as root, before the privilege drop) → start() → io.run() …
// stop() (e.g. from a signal handler on the io thread) → io.run() returns once every session
// has closed → destroy. Destroy only when the io_context is no longer running.
// No Asio header is included here (io_context is forward-declared) so app/ stays light.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace boost::asio {
class io_context;
}
namespace petrel::net {
class TlsContexts;
}
namespace petrel::queue {
class Spool;
}
namespace petrel::store {
class Credentials;
}
namespace petrel::smtp {
class SessionPolicy;
}
namespace petrel::dns {
class Resolver;
}

namespace petrel::server {

class SmtpServer {
public:
    SmtpServer(boost::asio::io_context& io, const config::Config& cfg, net::TlsContexts& tls,
               queue::Spool& spool, store::Credentials& credentials);
    // Test seam: a SessionPolicy instead of policy::RelayPolicy(cfg). `policy` must outlive
    // the server.
    SmtpServer(boost::asio::io_context& io, const config::Config& cfg, net::TlsContexts& tls,
               queue::Spool& spool, store::Credentials& credentials, smtp::SessionPolicy& policy);
    ~SmtpServer();
    SmtpServer(const SmtpServer&) = delete;
    SmtpServer& operator=(const SmtpServer&) = delete;

    // Binds every cfg.listeners entry. Throws std::system_error naming the listener and
    // address ("cannot listen on mx 127.0.0.1:25: Address already in use").
    void bind();

    // "mx 127.0.0.1:2525" per listener, with the real ports (port 0 in the config is allowed).
    std::vector<std::string> bound_addresses() const;

    // The resolver the mx listeners' authentication checks ask (cfg.authentication,
    // server/inbound_auth.h). Call before start(); `resolver` must outlive the server and be
    // used on the io thread only. Without one, mx mail is accepted unchecked (a warning is
    // logged at start() when checks are enabled).
    void set_resolver(dns::Resolver& resolver);

    // Starts the accept loops (call after the privilege drop).
    void start();

    // Stops accepting; open sessions get "421 4.3.2" at their next read and are closed (a
    // commit or AUTH check in flight completes first). Safe from any thread: the work is
    // dispatched to the io thread.
    void stop();

    // Connections currently open (io thread only; for tests and metrics).
    size_t connection_count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::server
