// control/control_client.h — the client side of the control socket, for `petrel queue`: a
// blocking Unix-domain stream connection that sends one request line and reads one response
// line (control/protocol.h). Plain POSIX, no Asio, so cli/ stays free of the network layer.
//
// Trust: the response comes from the daemon of the same deployment, over a socket only its user
// and root can open; it is still size-limited (kMaxResponseBytes) and read under a deadline
// (kResponseTimeout per wait), and the caller parses it as untrusted JSON.
// Not thread-safe; one request at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace petrel::control {

// A `show --raw` of a large message is base64 in one line: allow for the largest message
// petrel accepts, with room to spare.
inline constexpr size_t kMaxResponseBytes = 512u * 1024 * 1024;
inline constexpr auto kResponseTimeout = std::chrono::seconds(60);

enum class ConnectStatus {
    Connected,
    NoDaemon,  // no socket file, or nothing listening on it (ENOENT, ECONNREFUSED)
    Failed,    // any other error (EACCES: not root nor petrel's user, path too long, ...)
};

class ControlClient {
public:
    ControlClient() = default;
    ~ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    // On anything but Connected, `error` says why (errno text).
    ConnectStatus connect(const std::string& path, std::string& error);

    // Sends `request` plus a newline, reads one line back (newline removed). False, with
    // `error` set, when the daemon closed the connection, timed out or sent too much.
    bool call(std::string_view request, std::string& response, std::string& error);

private:
    int fd_ = -1;
    std::string buffer_;  // bytes read past the last response line
};

}  // namespace petrel::control
