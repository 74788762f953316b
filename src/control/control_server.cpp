// control/control_server.cpp — see control_server.h. Every await uses as_tuple (errors are
// values); every read and write runs under a watchdog timer that closes the socket.
#include "control/control_server.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <unordered_set>

#include "control/protocol.h"
#include "queue/queue_manager.h"

namespace petrel::control {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Closes `socket` if an operation is still pending when the deadline passes. The generation
// counter keeps a stale expiry (already queued when the deadline was re-armed) from closing the
// socket during a later operation; the state is shared with the timer's handler, which may run
// after the watchdog is gone.
class Watchdog {
public:
    Watchdog(asio::any_io_executor ex, local::socket& socket)
        : timer_(ex), state_(std::make_shared<State>(State{0, &socket})) {}
    ~Watchdog() { state_->socket = nullptr; }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    void arm() {
        const uint64_t generation = ++state_->generation;
        timer_.expires_after(kIdleTimeout);
        timer_.async_wait([state = state_, generation](boost::system::error_code ec) {
            if (ec || generation != state->generation || !state->socket) return;
            boost::system::error_code ignored;
            state->socket->close(ignored);
        });
    }
    void disarm() {
        ++state_->generation;
        timer_.cancel();
    }

private:
    struct State {
        uint64_t generation;
        local::socket* socket;
    };
    asio::steady_timer timer_;
    std::shared_ptr<State> state_;
};

}  // namespace

std::string socket_path(const std::string& data_dir) { return data_dir + "/control.sock"; }

struct ControlServer::Impl {
    Impl(asio::io_context& io, queue::QueueManager& queue, std::string path)
        : io(io), queue(queue), path(std::move(path)), acceptor(io) {}
    ~Impl() { pool.join(); }

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(local::socket socket);
    asio::awaitable<std::string> run_on_pool(std::string line);

    asio::io_context& io;
    queue::QueueManager& queue;
    std::string path;
    local::acceptor acceptor;
    asio::thread_pool pool{1};
    std::unordered_set<local::socket*> live;  // io thread only
    bool stopping = false;
};

asio::awaitable<std::string> ControlServer::Impl::run_on_pool(std::string line) {
    queue::QueueManager* q = &queue;
    auto work = [q, line = std::move(line)]() -> asio::awaitable<std::string> {
        co_return handle_line(*q, line, now_ms());
    };
    // Resumes here, on the io thread, once the pool has run the request.
    asio::awaitable<std::string> op = asio::co_spawn(pool, std::move(work), asio::use_awaitable);
    std::string response = co_await std::move(op);
    co_return response;
}

asio::awaitable<void> ControlServer::Impl::serve(local::socket socket) {
    live.insert(&socket);
    Watchdog watchdog(co_await asio::this_coro::executor, socket);
    std::string buffer;
    while (!stopping) {
        watchdog.arm();
        auto [ec, n] = co_await asio::async_read_until(
            socket, asio::dynamic_buffer(buffer, kMaxRequestBytes + 1), '\n', use_tuple);
        watchdog.disarm();
        std::string response;
        bool last = false;
        if (ec == asio::error::not_found) {
            // Over the limit before any newline: answer, then close (the rest of the line
            // cannot be told apart from a next request).
            Error e{ErrorCode::InvalidRequest,
                    "request longer than " + std::to_string(kMaxRequestBytes) + " bytes"};
            response = to_line(error_response(e));
            last = true;
        } else if (ec) {
            break;  // EOF, deadline, stop()
        } else {
            std::string line = buffer.substr(0, n - 1);
            buffer.erase(0, n);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            response = co_await run_on_pool(std::move(line));
        }
        response += '\n';
        watchdog.arm();
        auto [wec, written] = co_await asio::async_write(socket, asio::buffer(response), use_tuple);
        watchdog.disarm();
        if (wec || last) break;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    live.erase(&socket);
}

asio::awaitable<void> ControlServer::Impl::accept_loop() {
    asio::steady_timer backoff(io);
    while (!stopping) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (stopping || ec == asio::error::operation_aborted) break;
        if (ec) {
            // EMFILE and friends: log and wait a little rather than spin.
            spdlog::warn("control socket: accept failed: {}", ec.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            [[maybe_unused]] auto [wait_ec] = co_await backoff.async_wait(use_tuple);
            continue;
        }
        if (live.size() >= kMaxConnections) {
            spdlog::warn("control socket: {} connections open, refusing another", live.size());
            continue;  // `socket` closes as it goes out of scope
        }
        asio::co_spawn(io, serve(std::move(socket)), [](std::exception_ptr e) {
            if (e) spdlog::error("control socket: a connection ended with an exception");
        });
    }
}

ControlServer::ControlServer(asio::io_context& io, queue::QueueManager& queue, std::string path)
    : impl_(std::make_unique<Impl>(io, queue, std::move(path))) {}

ControlServer::~ControlServer() = default;

const std::string& ControlServer::path() const { return impl_->path; }

void ControlServer::start() {
    const std::string& path = impl_->path;
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        throw std::runtime_error("control socket path " + path + " is longer than " +
                                 std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                 " bytes; use a shorter data_dir");
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            throw std::runtime_error(path + " exists and is not a socket; remove it");
        }
        // Stale: the spool lock, held by this process, says no other daemon uses data_dir.
        if (::unlink(path.c_str()) != 0) {
            throw std::runtime_error("cannot remove stale " + path + ": " + std::strerror(errno));
        }
    }
    local::acceptor& acceptor = impl_->acceptor;
    boost::system::error_code ec;
    acceptor.open(local{}, ec);
    if (!ec) acceptor.bind(local::endpoint(path), ec);
    if (ec) throw std::runtime_error("cannot bind control socket " + path + ": " + ec.message());
    // Not yet listening, so nobody can connect before the mode is 0600.
    if (::chmod(path.c_str(), 0600) != 0) {
        throw std::runtime_error("cannot chmod " + path + ": " + std::strerror(errno));
    }
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + path + ": " + ec.message());
    asio::co_spawn(impl_->io, impl_->accept_loop(), [](std::exception_ptr e) {
        if (e) spdlog::error("control socket: the accept loop ended with an exception");
    });
    spdlog::info("control socket {}", path);
}

void ControlServer::stop() {
    Impl& s = *impl_;
    if (s.stopping) return;
    s.stopping = true;
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    for (local::socket* socket : s.live) socket->close(ignored);
    ::unlink(s.path.c_str());
}

}  // namespace petrel::control
