// server/connection.cpp — the per-connection coroutine (see connection.h).
//
// Reading: plain connections wait for readability and then read into one buffer shared by all
// connections of the thread, so an idle plain connection owns no read buffer at all (the memory
// target is ≤ 16 KiB per idle connection, bench/). TLS connections read through Asio's
// ssl::stream into a 4 KiB buffer of their own (OpenSSL needs the record layer anyway).
#include "server/connection.h"

#include <array>
#include <ctime>
#include <tuple>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "base/escape.h"
#include "base/ids.h"
#include "mail/received.h"
#include "server/inbound_auth.h"

namespace petrel::server {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr size_t kPlainReadChunk = 16 * 1024;  // shared by every plain connection of a thread
constexpr size_t kTlsReadChunk = 4 * 1024;     // per TLS connection
constexpr auto kMaxHandshake = std::chrono::milliseconds(30s);
constexpr auto kTlsShutdown = std::chrono::milliseconds(1s);

char* shared_read_buffer() {
    thread_local std::array<char, kPlainReadChunk> buffer;
    return buffer.data();
}

// An awaitable for a callback that another thread calls exactly once: `start(cb)` hands `cb`
// to that thread; `cb(value)` posts the value back to the awaiting coroutine's executor. A work
// guard keeps io_context::run() from returning while the answer is outstanding.
// Not itself a coroutine, and callers keep its result in a named variable before co_await:
// g++ 12 mishandles non-trivial temporaries inside a co_await full-expression (GCC PR 99576).
template <typename T, typename Start>
asio::awaitable<T> async_callback(Start start) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
        [start = std::move(start)](auto handler) mutable {
            using Handler = decltype(handler);
            auto ex = asio::get_associated_executor(handler);
            auto shared = std::make_shared<Handler>(std::move(handler));
            auto work = asio::make_work_guard(ex);
            start([shared, work](T value) mutable {
                asio::post(work.get_executor(),
                           [shared, value = std::move(value)]() mutable {
                               (*shared)(std::move(value));
                           });
                work.reset();
            });
        },
        asio::use_awaitable);
}

void cleanse(std::string& s) {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

}  // namespace

Connection::Connection(ServerContext& ctx, tcp::socket socket, config::ListenerKind kind,
                       smtp::SessionConfig session_config, std::string client_ip,
                       uint16_t client_port)
    : ctx_(ctx),
      socket_(std::move(socket)),
      deadline_(ctx.io),
      kind_(kind),
      session_config_(std::move(session_config)),
      sid_(base::new_session_id()),
      client_ip_(std::move(client_ip)),
      client_port_(client_port),
      started_(std::chrono::steady_clock::now()) {}

Connection::~Connection() = default;

std::string Connection::tag() const {
    return qid_.empty() ? "sid=" + sid_ : "sid=" + sid_ + " qid=" + qid_;
}

tcp::socket& Connection::lowest() { return tls_ ? tls_->next_layer() : socket_; }

void Connection::request_stop() {
    if (stop_requested_) return;
    stop_requested_ = true;
    if (reading_) {
        boost::system::error_code ignored;
        lowest().cancel(ignored);
    }
}

void Connection::arm(std::chrono::milliseconds timeout) {
    timed_out_ = false;
    uint64_t generation = ++deadline_generation_;
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
        // A stale wait (re-armed or disarmed since) must not cancel a later operation.
        if (ec || generation != self->deadline_generation_) return;
        self->timed_out_ = true;
        boost::system::error_code ignored;
        self->lowest().cancel(ignored);
    });
}

bool Connection::disarm() {
    ++deadline_generation_;
    deadline_.cancel();
    return timed_out_;
}

void Connection::log_events(const smtp::Output& out) const {
    for (const auto& ev : out.events) {
        // `detail` is escaped by the session already (server_session.h).
        if (ev.kind == "command") {
            spdlog::debug("{} {} {}", tag(), ev.kind, ev.detail);
        } else {
            spdlog::info("{} {} {}", tag(), ev.kind, ev.detail);
        }
    }
}

asio::awaitable<Connection::ReadResult> Connection::read_some() {
    const auto timeout = session_->read_timeout();
    if (tls_) {
        if (stop_requested_) co_return ReadResult{ReadStatus::Stopped, {}};
        if (!tls_buffer_) tls_buffer_ = std::make_unique<char[]>(kTlsReadChunk);
        arm(timeout);
        reading_ = true;
        auto [ec, n] = co_await tls_->async_read_some(
            asio::buffer(tls_buffer_.get(), kTlsReadChunk), use_tuple);
        reading_ = false;
        bool fired = disarm();
        if (!ec) co_return ReadResult{ReadStatus::Data, {tls_buffer_.get(), n}};
        if (stop_requested_) co_return ReadResult{ReadStatus::Stopped, {}};
        if (fired) co_return ReadResult{ReadStatus::Timeout, {}};
        co_return ReadResult{ReadStatus::Closed, {}};
    }
    // Plain: read what is already there; otherwise wait (with no buffer held) until readable.
    // Bounded: each round either returns or waits for the socket once.
    for (int round = 0; round < 1000; ++round) {
        if (stop_requested_) co_return ReadResult{ReadStatus::Stopped, {}};
        boost::system::error_code ec;
        char* buf = shared_read_buffer();
        size_t n = socket_.read_some(asio::buffer(buf, kPlainReadChunk), ec);
        if (!ec) co_return ReadResult{ReadStatus::Data, {buf, n}};
        if (ec != asio::error::would_block && ec != asio::error::try_again) {
            co_return ReadResult{ReadStatus::Closed, {}};
        }
        arm(timeout);
        reading_ = true;
        auto [wec] = co_await socket_.async_wait(tcp::socket::wait_read, use_tuple);
        reading_ = false;
        bool fired = disarm();
        if (!wec) continue;
        if (stop_requested_) co_return ReadResult{ReadStatus::Stopped, {}};
        if (fired) co_return ReadResult{ReadStatus::Timeout, {}};
        co_return ReadResult{ReadStatus::Closed, {}};
    }
    co_return ReadResult{ReadStatus::Closed, {}};
}

asio::awaitable<bool> Connection::write_all(std::string_view data) {
    if (data.empty()) co_return true;
    // No RFC number for a server's send timeout; the command timeout is generous and bounded.
    arm(session_config_.limits.command_timeout);
    boost::system::error_code ec;
    if (tls_) {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(*tls_, asio::buffer(data), use_tuple);
    } else {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(socket_, asio::buffer(data), use_tuple);
    }
    bool fired = disarm();
    if (ec) {
        spdlog::info("{} write failed: {}", tag(), fired ? "timeout" : ec.message());
    }
    co_return !ec;
}

asio::awaitable<bool> Connection::handshake() {
    tls_context_ = ctx_.tls.current();
    tls_.emplace(std::move(socket_), *tls_context_);
    arm(std::min(session_config_.limits.command_timeout, kMaxHandshake));
    auto [ec] = co_await tls_->async_handshake(ssl::stream_base::server, use_tuple);
    bool fired = disarm();
    if (ec) {
        tls_failed_ = true;
        spdlog::info("{} tls handshake failed: {}", tag(),
                     fired ? std::string("timeout") : base::escape_for_log(ec.message()));
        co_return false;
    }
    co_return true;
}

asio::awaitable<smtp::Output> Connection::authenticate(smtp::AuthRequest request) {
    using Clock = std::chrono::steady_clock;
    std::string user_for_log = base::escape_for_log(request.username, 64);
    if (ctx_.throttle.is_blocked(client_ip_, Clock::now())) {
        spdlog::warn("{} auth refused ip={} user={} reason=throttled", tag(), client_ip_,
                     user_for_log);
        cleanse(request.password);
        co_return session_->auth_result(smtp::AuthVerdict::Throttled);
    }
    // argon2id is slow by design: verify on the pool, never on the io thread.
    auto& credentials = ctx_.credentials;
    auto& pool = ctx_.verify_pool;
    auto verify = async_callback<store::VerifyResult>(
        [&credentials, &pool, user = std::move(request.username),
         password = std::move(request.password)](auto done) mutable {
            asio::post(pool, [&credentials, user = std::move(user),
                              password = std::move(password), done]() mutable {
                auto r = credentials.verify(user, password);
                cleanse(password);
                done(r);
            });
        });
    auto result = co_await std::move(verify);
    switch (result) {
        case store::VerifyResult::Ok:
            ctx_.throttle.record_success(client_ip_);
            spdlog::info("{} auth ok ip={} user={} mechanism={}", tag(), client_ip_, user_for_log,
                         request.mechanism);
            co_return session_->auth_result(smtp::AuthVerdict::Ok);
        case store::VerifyResult::Unavailable:
            spdlog::error("{} auth unavailable ip={} user={}: credential store error", tag(),
                          client_ip_, user_for_log);
            co_return session_->auth_result(smtp::AuthVerdict::TemporaryFail);
        case store::VerifyResult::BadCredentials:
            break;
    }
    bool locked = ctx_.throttle.record_failure(client_ip_, Clock::now());
    auto delay = ctx_.throttle.failure_delay(client_ip_);
    spdlog::warn("{} auth failed ip={} user={} mechanism={}{}", tag(), client_ip_, user_for_log,
                 request.mechanism, locked ? " lockout=start" : "");
    if (delay.count() > 0) {
        // RFC 4954 §4 leaves the pace to the server: slow each failure down (brute force).
        asio::steady_timer pause(ctx_.io);
        pause.expires_after(delay);
        co_await pause.async_wait(use_tuple);
    }
    co_return session_->auth_result(smtp::AuthVerdict::Failed);
}

asio::awaitable<smtp::Output> Connection::commit(smtp::AcceptedMessage message) {
    std::string qid = qid_;  // taken in run() before the "message complete" line
    std::string from = message.envelope.sender ? message.envelope.sender->str() : std::string();
    size_t nrcpt = message.envelope.recipients.size();

    // mx only: SPF, DKIM, DMARC, ARC and Authentication-Results (RFC 8601). Submission users
    // have authenticated; their mail is neither checked nor labelled — but on every path a
    // field naming petrel's authserv-id is removed (RFC 8601 §5).
    std::string auth_headers;
    if (kind_ == config::ListenerKind::Mx && ctx_.cfg.authentication.enabled && ctx_.resolver) {
        auto op = check_inbound_message(*ctx_.resolver, ctx_.cfg, message.envelope, message.body);
        InboundAuthOutcome auth = co_await std::move(op);
        if (auth.reject) {
            spdlog::info("{} rejected from=<{}> nrcpt={} {} reason=dmarc", tag(),
                         base::escape_for_log(from), nrcpt, auth.summary);
            smtp::CommitResult refused;
            refused.failure = std::move(auth.reject);
            co_return session_->commit_result(refused);
        }
        spdlog::info("{} auth {}", tag(), auth.summary);
        auth_headers = std::move(auth.headers);
    } else if (size_t n = remove_forged_authentication_results(ctx_.cfg, message.body); n != 0) {
        // Not checked here, but still never a field in petrel's name that petrel did not write.
        spdlog::info("{} removed {} Authentication-Results field(s) naming this server", tag(), n);
    }

    // RFC 5321 §4.4: the Received trace header goes on top (with TLS details, RFC 8314 §4.3),
    // then Authentication-Results (RFC 8601 §5: above the fields it is about).
    std::string full = mail::build_received(message.envelope, ctx_.cfg.hostname, qid,
                                            std::time(nullptr));
    full.reserve(full.size() + auth_headers.size() + message.body.size());
    full += auth_headers;
    full += message.body;
    std::string().swap(message.body);
    size_t size = full.size();

    auto& spool = ctx_.spool;
    auto stored = async_callback<queue::CommitOutcome>(
        [&spool, qid, envelope = std::move(message.envelope),
         full = std::move(full)](auto done) mutable {
            spool.commit(qid, std::move(envelope), std::move(full), std::move(done));
        });
    auto outcome = co_await std::move(stored);

    smtp::CommitResult result;
    switch (outcome.status) {
        case queue::CommitStatus::Ok:
            result.ok = true;
            result.queue_id = qid;
            spdlog::info("{} queued from=<{}> nrcpt={} size={}", tag(),
                         base::escape_for_log(from), nrcpt, size);
            break;
        case queue::CommitStatus::NoSpace:
            result.failure = smtp::Reply(452, "4.3.1", "Insufficient system storage");
            spdlog::error("{} queue failed: no space: {}", tag(), outcome.detail);
            break;
        case queue::CommitStatus::IoError:
            result.failure = smtp::Reply(451, "4.3.0", "Local error in processing");
            spdlog::error("{} queue failed: {}", tag(), outcome.detail);
            break;
    }
    co_return session_->commit_result(result);
}

asio::awaitable<void> Connection::close_stream() {
    boost::system::error_code ignored;
    if (tls_ && !tls_failed_) {
        // Send close_notify; do not wait long for the peer's (most clients just close).
        arm(std::min(session_config_.limits.command_timeout,
                     std::chrono::milliseconds(kTlsShutdown)));
        co_await tls_->async_shutdown(use_tuple);
        disarm();
    }
    auto& sock = lowest();
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
}

asio::awaitable<void> Connection::run() {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);  // replies are small; PIPELINING batches
    socket_.non_blocking(true, ignored);
    spdlog::info("{} connect listener={} client={} port={}", tag(), config::to_string(kind_),
                 client_ip_, client_port_);

    mail::SessionFacts facts;
    facts.session_id = sid_;
    facts.listener = config::to_string(kind_);
    facts.client_ip = client_ip_;
    facts.client_port = client_port_;

    if (kind_ == config::ListenerKind::Submissions) {
        // RFC 8314 §3: implicit TLS, the handshake comes before the greeting.
        session_config_.tls_active = true;
        if (!co_await handshake()) {
            co_await close_stream();
            co_return;
        }
        SSL* ssl = tls_->native_handle();
        facts.tls = true;
        facts.tls_version = SSL_get_version(ssl);
        facts.tls_cipher = SSL_get_cipher_name(ssl);
        spdlog::info("{} tls {} {}", tag(), facts.tls_version, facts.tls_cipher);
    }

    session_.emplace(session_config_, ctx_.policy, std::move(facts));
    smtp::Output out = session_->start();
    // Bounded: every round either reads from the peer (under a deadline) or acts once.
    for (;;) {
        // The queue ID exists before the "message complete" line, so every line about the
        // message carries qid= (and not the previous message's).
        if (out.action == smtp::Action::Commit && out.message) qid_ = ctx_.spool.new_id();
        log_events(out);
        if (!co_await write_all(out.wire)) break;
        std::string().swap(out.wire);
        bool done = false;
        switch (out.action) {
            case smtp::Action::None: {
                if (session_->closed()) {
                    done = true;
                    break;
                }
                ReadResult r = co_await read_some();
                switch (r.status) {
                    case ReadStatus::Data: out = session_->feed(r.data); break;
                    case ReadStatus::Timeout:
                        spdlog::info("{} timeout", tag());
                        out = session_->timeout();
                        break;
                    case ReadStatus::Stopped: {
                        std::string bye = smtp::Reply(421, "4.3.2", session_config_.hostname +
                                                                        " Service shutting down")
                                              .to_wire();
                        co_await write_all(bye);
                        done = true;
                        break;
                    }
                    case ReadStatus::Closed: done = true; break;
                }
                break;
            }
            case smtp::Action::StartTls: {
                // The session has dropped anything pipelined behind STARTTLS (RFC 3207 §4.2,
                // CVE-2011-0411); bytes still in the kernel become garbage to the handshake.
                if (!co_await handshake()) {
                    done = true;
                    break;
                }
                SSL* ssl = tls_->native_handle();
                smtp::TlsInfo info{SSL_get_version(ssl), SSL_get_cipher_name(ssl)};
                out = session_->tls_established(info);
                break;
            }
            case smtp::Action::Authenticate: {
                if (!out.auth) {
                    done = true;
                    break;
                }
                auto op = authenticate(std::move(*out.auth));
                out = co_await std::move(op);
                break;
            }
            case smtp::Action::Commit: {
                if (!out.message) {
                    done = true;
                    break;
                }
                auto op = commit(std::move(*out.message));
                out = co_await std::move(op);
                break;
            }
            case smtp::Action::Close: done = true; break;
        }
        if (done) break;
    }
    co_await close_stream();
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_);
    spdlog::info("{} disconnect duration={:.3f}s", tag(), secs.count());
}

}  // namespace petrel::server
