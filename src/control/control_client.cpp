// control/control_client.cpp — see control_client.h.
#include "control/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace petrel::control {

ControlClient::~ControlClient() {
    if (fd_ >= 0) ::close(fd_);
}

ConnectStatus ControlClient::connect(const std::string& path, std::string& error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        error = "socket path " + path + " is too long";
        return ConnectStatus::Failed;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        error = std::strerror(errno);
        return ConnectStatus::Failed;
    }
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
        return ConnectStatus::Connected;
    }
    const int e = errno;
    error = std::strerror(e);
    ::close(fd_);
    fd_ = -1;
    return e == ENOENT || e == ECONNREFUSED ? ConnectStatus::NoDaemon : ConnectStatus::Failed;
}

bool ControlClient::call(std::string_view request, std::string& response, std::string& error) {
    if (fd_ < 0) {
        error = "not connected";
        return false;
    }
    std::string out(request);
    out += '\n';
    size_t sent = 0;
    while (sent < out.size()) {
        ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = std::string("cannot send to the daemon: ") + std::strerror(errno);
            return false;
        }
        sent += static_cast<size_t>(n);
    }
    char chunk[64 * 1024];
    for (;;) {
        size_t nl = buffer_.find('\n');
        if (nl != std::string::npos) {
            response = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            return true;
        }
        if (buffer_.size() > kMaxResponseBytes) {
            error = "the daemon's response is too large";
            return false;
        }
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kResponseTimeout).count()));
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            error = "the daemon did not answer within " +
                    std::to_string(kResponseTimeout.count()) + " s";
            return false;
        }
        ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = n == 0 ? "the daemon closed the connection"
                           : std::string("cannot read from the daemon: ") + std::strerror(errno);
            return false;
        }
        buffer_.append(chunk, static_cast<size_t>(n));
    }
}

}  // namespace petrel::control
