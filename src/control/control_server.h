// control/control_server.h — the daemon's control socket: a Unix-domain stream socket at
// `<data_dir>/control.sock` that speaks control/protocol.h (one JSON request per line, one JSON
// response per line) and drives the queue::QueueManager for `petrel queue`.
//
// Trust and access: the socket file is mode 0600 and owned by the user petrel runs as (create it
// after the privilege drop), so only that user and root can connect; it is chmod-ed between
// bind() and listen(), so no connection is ever accepted with a wider mode. Requests are still
// parsed as untrusted bytes: at most kMaxRequestBytes per line (an over-long line gets an
// invalid_request error and the connection is closed), a deadline on every read and write
// (kIdleTimeout), at most kMaxConnections at once.
// Threading: the accept loop and the connections are coroutines on the daemon's io_context. The
// queue calls run on a one-thread pool of this server, not on the io thread: `list` and `show`
// read envelopes and message files from disk (a 10,000-message page is 10,000 file reads) and
// mutations fsync a journal, and none of that may stall SMTP sessions. One thread is enough:
// operator commands are rare, and running them one at a time keeps their effects in order.
// Lifecycle: construct → start() (throws std::runtime_error at start-up: a path that is not a
// socket, a path too long for sun_path, bind errors) → io.run() … stop() on the io thread
// (closes the acceptor and every connection, removes the socket file) → destroy after io.run()
// returned. A leftover socket from a crashed daemon is removed by start(): the spool lock,
// taken before, guarantees no other daemon serves this data_dir.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}
namespace petrel::queue {
class QueueManager;
}

namespace petrel::control {

inline constexpr auto kIdleTimeout = std::chrono::seconds(30);
inline constexpr size_t kMaxConnections = 16;

// "<data_dir>/control.sock".
std::string socket_path(const std::string& data_dir);

class ControlServer {
public:
    ControlServer(boost::asio::io_context& io, queue::QueueManager& queue, std::string path);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    void start();
    void stop();
    const std::string& path() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::control
