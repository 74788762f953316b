// server/smtp_server.cpp — listeners, accept loops, connection limits and the set of live
// connections (see smtp_server.h).
#include "server/smtp_server.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "base/ids.h"
#include "net/listener.h"
#include "net/tls.h"
#include "policy/auth_throttle.h"
#include "policy/relay_policy.h"
#include "server/connection.h"
#include "server/session_setup.h"

namespace petrel::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// argon2id at the "interactive" cost takes 64 MiB and tens of milliseconds per check: two
// workers bound both the memory and the CPU that AUTH attempts can take.
unsigned verify_threads() { return std::clamp(std::thread::hardware_concurrency(), 1u, 2u); }

}  // namespace

struct SmtpServer::Impl {
    struct Slot {
        config::Listener config;
        std::unique_ptr<net::Listener> listener;
        smtp::SessionConfig session_config;
    };

    Impl(asio::io_context& io, const config::Config& cfg, net::TlsContexts& tls,
         queue::Spool& spool, store::Credentials& credentials, smtp::SessionPolicy* policy)
        : io(io),
          cfg(cfg),
          owned_policy(policy ? nullptr : std::make_unique<policy::RelayPolicy>(cfg)),
          throttle(cfg.auth),
          verify_pool(verify_threads()),
          ctx{io, cfg, tls, spool, credentials, policy ? *policy : *owned_policy, throttle,
              verify_pool} {}

    ~Impl() {
        verify_pool.join();
    }

    asio::awaitable<void> accept_loop(Slot& slot);
    void on_accept(Slot& slot, tcp::socket socket);
    void refuse(tcp::socket& socket, const std::string& ip, const char* reason);
    void release(const std::string& ip);
    void do_stop();

    asio::io_context& io;
    const config::Config& cfg;
    std::unique_ptr<policy::RelayPolicy> owned_policy;
    policy::AuthThrottle throttle;
    asio::thread_pool verify_pool;
    ServerContext ctx;
    std::vector<Slot> slots;
    bool stopping = false;
    // Live connections: owned by their coroutine; listed here so stop() can reach them.
    std::unordered_set<std::shared_ptr<Connection>> live;
    std::unordered_map<std::string, unsigned> per_ip;
    std::atomic<size_t> open_count{0};
};

asio::awaitable<void> SmtpServer::Impl::accept_loop(Slot& slot) {
    auto& acceptor = slot.listener->acceptor();
    // Bounded by stop(): closing the acceptor ends the loop.
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (stopping || ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // EMFILE/ENFILE/ENOBUFS: pause briefly instead of spinning on the error.
            spdlog::warn("accept on {} failed: {}", slot.listener->local_address(), ec.message());
            asio::steady_timer pause(io);
            pause.expires_after(std::chrono::milliseconds(50));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        on_accept(slot, std::move(socket));
    }
}

void SmtpServer::Impl::refuse(tcp::socket& socket, const std::string& ip, const char* reason) {
    // Written without waiting: a fresh socket's send buffer always has room for one line.
    static const std::string line = "421 4.7.0 Too many connections from your address\r\n";
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(line), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    spdlog::warn("sid={} refused client={} reason={}", base::new_session_id(), ip, reason);
}

void SmtpServer::Impl::on_accept(Slot& slot, tcp::socket socket) {
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return;  // the peer is already gone
    std::string ip = net::address_string(remote);
    if (live.size() >= cfg.max_connections) {
        refuse(socket, ip, "max_connections");
        return;
    }
    auto it = per_ip.find(ip);
    if (it != per_ip.end() && it->second >= cfg.max_connections_per_ip) {
        refuse(socket, ip, "max_connections_per_ip");
        return;
    }
    ++per_ip[ip];
    auto conn = std::make_shared<Connection>(ctx, std::move(socket), slot.config.kind,
                                             slot.session_config, ip, remote.port());
    live.insert(conn);
    open_count = live.size();
    // The completion runs on the io thread when the coroutine ends (or failed with an
    // exception, which only resource exhaustion can cause): it untracks the connection.
    asio::co_spawn(io, conn->run(), [this, conn](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("sid={} connection failed: {}", conn->session_id(), ex.what());
            } catch (...) {
                spdlog::error("sid={} connection failed", conn->session_id());
            }
        }
        release(conn->client_ip());
        live.erase(conn);
        open_count = live.size();
    });
}

void SmtpServer::Impl::release(const std::string& ip) {
    auto it = per_ip.find(ip);
    if (it == per_ip.end()) return;
    if (--it->second == 0) per_ip.erase(it);
}

void SmtpServer::Impl::do_stop() {
    if (stopping) return;
    stopping = true;
    for (auto& slot : slots) {
        if (slot.listener) slot.listener->close();
    }
    spdlog::info("smtp stopping: {} open connection(s)", live.size());
    for (const auto& conn : live) conn->request_stop();
}

SmtpServer::SmtpServer(asio::io_context& io, const config::Config& cfg, net::TlsContexts& tls,
                       queue::Spool& spool, store::Credentials& credentials)
    : impl_(std::make_unique<Impl>(io, cfg, tls, spool, credentials, nullptr)) {}

SmtpServer::SmtpServer(asio::io_context& io, const config::Config& cfg, net::TlsContexts& tls,
                       queue::Spool& spool, store::Credentials& credentials,
                       smtp::SessionPolicy& policy)
    : impl_(std::make_unique<Impl>(io, cfg, tls, spool, credentials, &policy)) {}

SmtpServer::~SmtpServer() {
    for (auto& slot : impl_->slots) {
        if (slot.listener) slot.listener->close();
    }
}

void SmtpServer::bind() {
    for (const auto& l : impl_->cfg.listeners) {
        Impl::Slot slot;
        slot.config = l;
        slot.listener = std::make_unique<net::Listener>(impl_->io, config::to_string(l.kind),
                                                        l.host, l.port);
        slot.session_config = make_session_config(impl_->cfg, l.kind);
        impl_->slots.push_back(std::move(slot));
    }
}

std::vector<std::string> SmtpServer::bound_addresses() const {
    std::vector<std::string> out;
    for (const auto& slot : impl_->slots) {
        out.push_back(std::string(config::to_string(slot.config.kind)) + " " +
                      slot.listener->local_address());
    }
    return out;
}

void SmtpServer::set_resolver(dns::Resolver& resolver) { impl_->ctx.resolver = &resolver; }

void SmtpServer::start() {
    bool has_mx = std::any_of(impl_->slots.begin(), impl_->slots.end(), [](const Impl::Slot& s) {
        return s.config.kind == config::ListenerKind::Mx;
    });
    if (has_mx && impl_->cfg.authentication.enabled && !impl_->ctx.resolver) {
        spdlog::warn("authentication checks enabled but no resolver: mx mail is not checked");
    }
    for (auto& slot : impl_->slots) {
        spdlog::info("smtp listening {} {}", config::to_string(slot.config.kind),
                     slot.listener->local_address());
        // Accept loops end when stop() closes their acceptor.
        asio::co_spawn(impl_->io, impl_->accept_loop(slot), [](std::exception_ptr e) {
            if (e) spdlog::error("accept loop ended by an exception");
        });
    }
}

void SmtpServer::stop() {
    asio::dispatch(impl_->io, [impl = impl_.get()] { impl->do_stop(); });
}

size_t SmtpServer::connection_count() const { return impl_->open_count.load(); }

}  // namespace petrel::server
