// tests/unit/dns/dnsmasq.h — a real dnsmasq (Debian dnsmasq-base) on a free 127.0.0.1 port,
// serving only the records a test gives it, started in the foreground and stopped by its PID.
//
// `--local=/<zone>/` makes unknown names in the zone NXDOMAIN (without it dnsmasq answers
// REFUSED); `--local-ttl` gives local records a TTL (dnsmasq's default is 0);
// `--conf-file=/dev/null` keeps the machine's /etc/dnsmasq.conf out. Ready = the port is bound
// (a query sent after that waits in the socket until dnsmasq reads it): no sleeps.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace petrel::dns::testing {

inline constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";

inline bool dnsmasq_available() { return access(kDnsmasq, X_OK) == 0; }

// Binds a socket of `type` to 127.0.0.1:port (0: any); returns the fd (or -1) and the port.
inline int bind_loopback(int type, uint16_t& port) {
    int fd = socket(AF_INET, type, 0);
    if (fd < 0) return -1;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
    return fd;
}

// A port free for both UDP and TCP right now (DNS uses both).
inline uint16_t free_dns_port() {
    for (int i = 0; i < 50; ++i) {
        uint16_t port = 0;
        int u = bind_loopback(SOCK_DGRAM, port);
        int t = u >= 0 ? bind_loopback(SOCK_STREAM, port) : -1;
        if (u >= 0) close(u);
        if (t >= 0) {
            close(t);
            return port;
        }
    }
    throw std::runtime_error("no free loopback port");
}

class Dnsmasq {
public:
    // `records`: dnsmasq options such as "--mx-host=a.test,mx.a.test,10". `zone`: answered
    // only from these records (NXDOMAIN for the rest).
    Dnsmasq(const std::string& zone, std::vector<std::string> records) : port_(free_dns_port()) {
        std::vector<std::string> args = {
            kDnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            "--port=" + std::to_string(port_), "--listen-address=127.0.0.1", "--bind-interfaces",
            "--user=root", "--pid-file=", "--log-facility=/dev/null", "--local-ttl=300",
            "--local=/" + zone + "/"};
        args.insert(args.end(), records.begin(), records.end());
        pid_ = fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(kDnsmasq, argv.data());
            _exit(127);
        }
        // Ready when dnsmasq holds the UDP port; give up after 10 s or if it exited.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (true) {
            uint16_t p = port_;
            int fd = bind_loopback(SOCK_DGRAM, p);
            if (fd < 0) break;
            close(fd);
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("dnsmasq exited at start (bad option?)");
            }
            if (std::chrono::steady_clock::now() > deadline) {
                stop();
                throw std::runtime_error("dnsmasq did not bind its port");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    ~Dnsmasq() { stop(); }
    Dnsmasq(const Dnsmasq&) = delete;
    Dnsmasq& operator=(const Dnsmasq&) = delete;

    uint16_t port() const { return port_; }
    std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

    // SIGTERM, then SIGKILL if it has not exited within 5 s; reaps it.
    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        for (int i = 0; i < 500; ++i) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    uint16_t port_;
    pid_t pid_ = -1;
};

}  // namespace petrel::dns::testing
