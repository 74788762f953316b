// delivery/engine.h — the outbound delivery engine: scheduler, per-destination queues and
// limits, connection driver, retries and reports (docs/delivery.md).
//
// Lifecycle: construct after `QueueManager::recover()` and the privilege drop, `start()` on the
// io thread (it registers `on_due` and runs the scheduler coroutine), `stop()` on SIGTERM: no
// new connections, idle ones QUIT, running transactions finish (each read has its deadline),
// results still get recorded; io.run() returns once every coroutine has ended. Destroy after
// io.run() returned.
// Threads: everything runs on the io thread except disk work (reading spool headers and
// messages, `record_attempt`'s fsyncs, local Maildir deliveries), which goes to the engine's
// small pool and posts its result back. `on_due` may be called from any thread: it only posts.
// Trust: queue entries are petrel's own; every byte from a peer goes to smtp::ClientSession
// and reaches logs escaped. Routing and limits come from the validated config.
// RFC 5321 §4.5.4 (retries), §5.1 (MX, through dns::plan_mx), RFC 7505 (null MX: 556 5.1.10),
// RFC 3461/3464 (reports, built by mail::build_dsn), RFC 3207/8314 (TLS), RFC 4954 (AUTH),
// RFC 6376 §5 (DKIM signing of SMTP deliveries, by mailauth::dkim::sign_outbound).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "config/config.h"
#include "delivery/retry_policy.h"
#include "dns/resolver.h"
#include "queue/queue_manager.h"
#include "smtp/client_session.h"

namespace petrel::mailauth {
class OutboundAuth;  // mailauth/outbound.h: DKIM keys and the ARC sealing key (SIGHUP reloads)
}

namespace petrel::delivery {

// What a local delivery (Maildir) says; `deliver` runs on the engine's pool (it fsyncs).
struct LocalOutcome {
    bool ok = false;
    bool permanent = false;
    std::string reply;  // "250 ..." / "550 5.1.1 ..." / "451 4.3.0 ..."
};
using LocalDeliver = std::function<LocalOutcome(const std::string& user, std::string_view message,
                                                const mail::Envelope& envelope)>;

// How a delivered recipient left, for NOTIFY=SUCCESS (RFC 3461 §5.2.2, §5.2.3, §6.3): final
// delivery (Maildir) → "delivered"; relayed by SMTP to a server without DSN → "relayed"; to a
// server with DSN → NOTIFY went along and that server reports, petrel does not.
enum class Handoff { Final, Relayed, PassedOn };

// One recipient's outcome in this pass.
struct Outcome {
    size_t index = 0;
    queue::RecipientState state = queue::RecipientState::Pending;  // Pending = deferred
    smtp::Reply reply;
    bool from_server = false;
    std::string remote_mta;  // who answered
    Handoff handoff = Handoff::Final;
};

// A due message taken from the queue, until its results are recorded.
struct MessageWork {
    std::string id;
    queue::SpoolEntry entry;
    bool bounce = false;           // a DSN petrel generated (queue::is_petrel_bounce)
    uint32_t attempts = 0;         // attempts before this one (for the backoff)
    size_t jobs_left = 0;
    std::vector<Outcome> outcomes;
    int64_t resume_ms = 0;         // earliest time a paused destination takes it again
    std::string dkim_header;       // DKIM-Signature fields sent before the stored message (SMTP only)
    std::optional<std::string> message;  // the message bytes when small (read with the header)
    bool delay_warned = false;        // a delay report went out in an earlier attempt (journaled)
    bool delay_warning_sent = false;  // one goes out in this attempt: record_attempt journals it
    bool failure_report_lost = false; // the failure report could not be queued: its recipients
                                      // stay pending for a later attempt (reports.cpp)
};

// Recipients of one message for one destination: one SMTP transaction.
struct Job {
    std::shared_ptr<MessageWork> msg;
    std::vector<size_t> rcpts;  // indexes into msg->entry.envelope.recipients
};

enum class RouteKind { Mx, Smarthost };

// A destination: a recipient domain (MX) or a smart host, with its queue and limits.
struct Destination {
    std::string key;      // "mx:example.test" / "smarthost:host:port"
    RouteKind kind = RouteKind::Mx;
    std::string domain;   // MX: the domain to plan
    const config::Smarthost* smarthost = nullptr;
    config::DestinationPolicy policy;
    std::deque<Job> jobs;
    unsigned connections = 0;
    std::deque<int64_t> sent_ms;       // sends in the last minute (messages_per_minute)
    int64_t paused_until_ms = 0;       // back-off after 421 / repeated 4xx / all hosts down
    unsigned strikes = 0;              // consecutive temporary failures
    unsigned backoff_level = 0;
    smtp::Reply pause_reason;
    std::set<boost::asio::steady_timer*> idle;  // connections waiting for work
};

class DeliveryEngine {
public:
    DeliveryEngine(boost::asio::io_context& io, const config::Config& cfg,
                   queue::QueueManager& queue, dns::Resolver& resolver, LocalDeliver local,
                   const mailauth::OutboundAuth* dkim = nullptr);  // outlives the engine
    ~DeliveryEngine();
    DeliveryEngine(const DeliveryEngine&) = delete;
    DeliveryEngine& operator=(const DeliveryEngine&) = delete;

    void start();
    void stop();

private:
    // engine.cpp: the scheduler
    boost::asio::awaitable<void> run();
    void wake();
    void take_due();
    boost::asio::awaitable<void> load(std::vector<std::string> ids);
    void dispatch(std::shared_ptr<MessageWork> work);
    std::shared_ptr<Destination> destination_for(const std::string& domain);
    void service(const std::shared_ptr<Destination>& d);
    void finish_job(const Job& job, std::vector<Outcome> outcomes);
    void pause_destination(Destination& d, const smtp::Reply& why, bool at_once);
    void destination_ok(Destination& d);
    bool may_send(Destination& d, int64_t now_ms);
    void fail_job(const Job& job, const smtp::Reply& reply, bool from_server, const std::string& mta);
    boost::asio::awaitable<void> local_job(Job job);
    // DKIM-signs and ARC-seals (mailauth/outbound.h): the fields to send before the message.
    std::string dkim_sign(const std::string& id, const queue::DeliveryEntry& loaded) const;  // pool
    // reports.cpp: completing a message
    boost::asio::awaitable<void> complete(std::shared_ptr<MessageWork> work);
    boost::asio::awaitable<void> send_reports(MessageWork& work, int64_t now_ms, bool expired);
    // smtp_delivery.cpp: one connection
    boost::asio::awaitable<void> connection(std::shared_ptr<Destination> d, Job job);
    void spawn(boost::asio::awaitable<void> task);
    struct Hop;
    boost::asio::awaitable<std::vector<Hop>> plan(Destination& d, Job& first, bool& done);
    struct SessionEnd;
    boost::asio::awaitable<SessionEnd> converse(Destination& d, Hop& hop, class ClientStream& s,
                                                Job& job);
    smtp::ClientConfig client_config(const Destination& d) const;
    smtp::ClientTransaction transaction(const Job& job) const;

    boost::asio::io_context& io_;
    const config::Config& cfg_;
    queue::QueueManager& queue_;
    dns::Resolver& resolver_;
    LocalDeliver local_;
    const mailauth::OutboundAuth* dkim_;  // nullptr: nothing is signed or sealed
    RetryPolicy retry_;
    boost::asio::thread_pool pool_{2};
    boost::asio::steady_timer timer_;
    std::mt19937_64 rng_;
    bool stopping_ = false;
    bool started_ = false;
    size_t coroutines_ = 0;  // connections, local jobs and completions running
    std::set<std::string> in_flight_;     // message IDs taken and not yet recorded
    std::map<std::string, std::shared_ptr<Destination>> destinations_;
    std::shared_ptr<boost::asio::ssl::context> tls_opportunistic_;
    // tls = "required" for MX hosts: one verifying context per CA file ("" = system store).
    std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> tls_verify_;
    std::map<const config::Smarthost*, std::shared_ptr<boost::asio::ssl::context>> tls_smarthost_;
};

}  // namespace petrel::delivery
