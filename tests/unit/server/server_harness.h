// tests/unit/server/server_harness.h — an in-process SmtpServer on 127.0.0.1:0 with an in-memory
// spool and fake credentials, and a blocking SMTP test client (plain, STARTTLS, implicit TLS)
// whose every operation has a deadline (no sleeps: each step waits for its own condition).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "base/ids.h"
#include "config/config.h"
#include "dns/resolver.h"
#include "net/tls.h"
#include "queue/spool.h"
#include "server/smtp_server.h"
#include "store/credentials.h"

namespace petrel::server::testing {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using namespace std::chrono_literals;

// Commits complete on a separate thread, as a real spool's do.
class FakeSpool final : public queue::Spool {
public:
    struct Stored {
        std::string id;
        mail::Envelope envelope;
        std::string message;
    };
    ~FakeSpool() override {
        for (auto& t : threads_) t.join();
    }
    std::string new_id() override { return base::new_queue_id(); }
    void commit(std::string id, mail::Envelope envelope, std::string message,
                std::function<void(queue::CommitOutcome)> done) override {
        std::lock_guard lock(mutex_);
        threads_.emplace_back([this, id = std::move(id), envelope = std::move(envelope),
                               message = std::move(message), done = std::move(done)]() mutable {
            queue::CommitOutcome outcome{next_status.load(), "test"};
            if (outcome.status == queue::CommitStatus::Ok) {
                std::lock_guard lock(mutex_);
                stored_.push_back({std::move(id), std::move(envelope), std::move(message)});
            }
            done(outcome);
        });
    }
    std::vector<Stored> stored() {
        std::lock_guard lock(mutex_);
        return stored_;
    }
    std::atomic<queue::CommitStatus> next_status{queue::CommitStatus::Ok};

private:
    std::mutex mutex_;
    std::vector<std::thread> threads_;
    std::vector<Stored> stored_;
};

// alice/secret is valid; user "down" reports the store unavailable.
class FakeCredentials final : public store::Credentials {
public:
    store::StoreStatus add_user(std::string_view, std::string_view) override {
        return store::StoreStatus::InvalidInput;
    }
    store::StoreStatus set_password(std::string_view, std::string_view) override {
        return store::StoreStatus::InvalidInput;
    }
    store::StoreStatus remove_user(std::string_view) override {
        return store::StoreStatus::NotFound;
    }
    std::vector<store::UserInfo> list_users() override { return {}; }
    store::VerifyResult verify(std::string_view name, std::string_view password) override {
        ++calls;
        if (name == "down") return store::VerifyResult::Unavailable;
        return name == "alice" && password == "secret" ? store::VerifyResult::Ok
                                                       : store::VerifyResult::BadCredentials;
    }
    std::atomic<int> calls{0};
};

inline std::filesystem::path make_temp_dir() {
    char tmpl[] = "/tmp/petrel-server-test-XXXXXX";
    return ::mkdtemp(tmpl);
}

inline config::Config test_config(const std::string& data_dir) {
    config::Config cfg;
    cfg.data_dir = data_dir;
    cfg.hostname = "mx.example.test";
    cfg.listeners = {
        {config::ListenerKind::Mx, "127.0.0.1", 0, "127.0.0.1:0"},
        {config::ListenerKind::Submission, "127.0.0.1", 0, "127.0.0.1:0"},
        {config::ListenerKind::Submissions, "127.0.0.1", 0, "127.0.0.1:0"},
    };
    cfg.domains.local = {"example.test"};
    cfg.delivery_mode = config::DeliveryMode::Mx;
    cfg.auth.failure_delay = std::chrono::milliseconds(1);
    return cfg;
}

// Owns the server and the io thread. Adjust `cfg` before start().
class ServerHarness {
public:
    ServerHarness() : dir_(make_temp_dir()), cfg(test_config(dir_.string())) {}
    ~ServerHarness() {
        stop();
        server_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    void start() {
        tls_ = std::make_unique<net::TlsContexts>(cfg);
        server_ = std::make_unique<SmtpServer>(io_, cfg, *tls_, spool, credentials);
        if (resolver) server_->set_resolver(*resolver);
        server_->bind();
        server_->start();
        auto promise = std::make_shared<std::promise<void>>();
        io_done_ = promise->get_future();
        thread_ = std::thread([this, promise] {
            io_.run();
            promise->set_value();
        });
    }

    // Stops the server and waits (bounded) for every session to close and io.run() to return.
    // Returns false when io.run() did not return in time (something was left running).
    bool stop() {
        if (!thread_.joinable()) return true;
        server_->stop();
        bool drained = io_done_.wait_for(10s) == std::future_status::ready;
        if (!drained) io_.stop();
        thread_.join();
        return drained;
    }

    uint16_t port(config::ListenerKind kind) const {
        std::string prefix = std::string(config::to_string(kind)) + " ";
        for (const auto& a : server_->bound_addresses()) {
            if (a.rfind(prefix, 0) == 0) return static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
        }
        return 0;
    }

    // Waits (bounded) until the server holds exactly `n` connections.
    bool wait_connections(size_t n) {
        for (int i = 0; i < 2000; ++i) {
            if (server_->connection_count() == n) return true;
            std::this_thread::sleep_for(5ms);
        }
        return false;
    }

    SmtpServer& server() { return *server_; }

private:
    std::filesystem::path dir_;

public:
    config::Config cfg;
    FakeSpool spool;
    FakeCredentials credentials;
    dns::Resolver* resolver = nullptr;  // set before start(): mx authentication checks

private:
    asio::io_context io_;
    std::unique_ptr<net::TlsContexts> tls_;
    std::unique_ptr<SmtpServer> server_;
    std::thread thread_;
    std::future<void> io_done_;
};

// A blocking client; each operation runs the client's own io_context with a deadline.
class Client {
public:
    explicit Client(uint16_t port, bool implicit_tls = false)
        : tls_ctx_(ssl::context::tls_client), socket_(io_) {
        tls_ctx_.set_verify_mode(ssl::verify_none);
        boost::system::error_code ec;
        socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
        connected_ = !ec;
        if (connected_ && implicit_tls) connected_ = handshake();
    }

    bool connected() const { return connected_; }

    bool send(std::string_view data) {
        boost::system::error_code ec;
        if (tls_) {
            asio::write(*tls_, asio::buffer(data), ec);
        } else {
            asio::write(socket_, asio::buffer(data), ec);
        }
        return !ec;
    }

    // One whole reply (all its lines); empty on EOF, error or deadline.
    std::string read_reply(std::chrono::milliseconds timeout = 5000ms) {
        std::string reply;
        for (int lines = 0; lines < 100; ++lines) {
            std::string line = read_line(timeout);
            if (line.empty()) return reply.empty() ? std::string() : reply;
            reply += line;
            if (line.size() >= 4 && line[3] == ' ') return reply;
        }
        return reply;
    }

    // Sends a command and returns its reply.
    std::string cmd(std::string_view line) {
        send(std::string(line) + "\r\n");
        return read_reply();
    }

    // TLS client handshake (after "220" to STARTTLS, or at connect for implicit TLS).
    bool handshake() {
        tls_.emplace(socket_, tls_ctx_);
        boost::system::error_code result = asio::error::timed_out;
        tls_->async_handshake(ssl::stream_base::client,
                              [&](boost::system::error_code ec) { result = ec; });
        run_for(5000ms);
        if (result) tls_.reset();
        return !result;
    }

    bool tls() const { return tls_.has_value(); }

    std::string tls_version() { return tls_ ? SSL_get_version(tls_->native_handle()) : ""; }

    // True when the server closed the connection (EOF or reset) within the deadline; any bytes
    // that still arrive are returned in `trailing`.
    bool wait_closed(std::chrono::milliseconds timeout = 5000ms, std::string* trailing = nullptr) {
        for (int i = 0; i < 100; ++i) {
            std::string line = read_line(timeout);
            if (line.empty()) return !timed_out_;
            if (trailing) *trailing += line;
        }
        return false;
    }

    void close() {
        boost::system::error_code ec;
        socket_.close(ec);
    }

private:
    std::string read_line(std::chrono::milliseconds timeout) {
        timed_out_ = false;
        auto pos = buf_.find("\r\n");
        if (pos == std::string::npos) {
            boost::system::error_code result = asio::error::timed_out;
            bool done = false;
            auto handler = [&](boost::system::error_code ec, size_t) {
                result = ec;
                done = true;
            };
            if (tls_) {
                asio::async_read_until(*tls_, asio::dynamic_buffer(buf_), "\r\n", handler);
            } else {
                asio::async_read_until(socket_, asio::dynamic_buffer(buf_), "\r\n", handler);
            }
            run_for(timeout);
            if (!done) timed_out_ = true;
            pos = buf_.find("\r\n");
            if (result || pos == std::string::npos) return {};
        }
        std::string line = buf_.substr(0, pos + 2);
        buf_.erase(0, pos + 2);
        return line;
    }

    void run_for(std::chrono::milliseconds timeout) {
        io_.restart();
        io_.run_for(timeout);
        if (!io_.stopped()) {
            boost::system::error_code ec;
            socket_.cancel(ec);
            io_.restart();
            io_.run();
        }
    }

    asio::io_context io_;
    ssl::context tls_ctx_;
    tcp::socket socket_;
    std::optional<ssl::stream<tcp::socket&>> tls_;
    std::string buf_;
    bool connected_ = false;
    bool timed_out_ = false;
};

inline std::string base64(std::string_view in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 |
                     (unsigned char)in[i + 2];
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    }
    if (i + 1 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16;
        out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
    }
    return out;
}

inline std::string auth_plain(std::string_view user, std::string_view pass) {
    std::string s;
    s += '\0';
    s += user;
    s += '\0';
    s += pass;
    return "AUTH PLAIN " + base64(s);
}

}  // namespace petrel::server::testing
