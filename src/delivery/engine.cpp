// delivery/engine.cpp — the scheduler half of DeliveryEngine (engine.h): waking up, taking due
// messages, routing recipients to destinations, per-destination limits and back-off, local
// deliveries. The connection driver is smtp_delivery.cpp; completing a message (retry time,
// expiry, reports, record_attempt) is reports.cpp.
// Trust: entries come from petrel's own spool; domains were normalized at RCPT time.
#include "delivery/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/escape.h"
#include "delivery/pool_call.h"
#include "delivery/spool_source.h"
#include "mailauth/outbound.h"
#include "net/tls.h"

namespace petrel::delivery {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr size_t kMaxInFlight = 2000;  // messages taken and not yet recorded (bounds memory)
constexpr auto kTick = 1s;             // the scheduler looks at the queue at least this often
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kDkimHeadBytes = 64 * 1024;  // where the From field is looked for first
// A spool record up to this size is read whole with its header and sent from memory: at most
// kMaxInFlight × 32 KiB = 64 MiB held, and most mail needs no second read.
constexpr uint64_t kInlineMessageBytes = 32 * 1024;

bool listed(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

DeliveryEngine::DeliveryEngine(asio::io_context& io, const config::Config& cfg,
                               queue::QueueManager& queue, dns::Resolver& resolver,
                               LocalDeliver local,
                               const mailauth::OutboundAuth* dkim)
    : io_(io),
      cfg_(cfg),
      queue_(queue),
      resolver_(resolver),
      local_(std::move(local)),
      dkim_(dkim),
      retry_(cfg.delivery),
      timer_(io),
      rng_(std::random_device{}()) {
    // Contexts are built at start-up, where an error may still stop the daemon (STYLE §6).
    tls_opportunistic_ = net::make_client_context(false);
    auto add_verify = [&](const config::DestinationPolicy& p) {
        if (p.tls != config::TlsPolicy::Required || tls_verify_.count(p.ca_file)) return;
        tls_verify_[p.ca_file] = net::make_client_context(true, p.ca_file);
    };
    add_verify(cfg.delivery.defaults);
    for (const auto& p : cfg.delivery.destinations) add_verify(p);
    auto add = [&](const config::Smarthost& s) {
        tls_smarthost_[&s] = net::make_client_context(s.tls_verify, s.ca_file);
    };
    if (cfg.delivery.smarthost) add(*cfg.delivery.smarthost);
    for (const auto& r : cfg.delivery.routes) add(r.smarthost);
}

DeliveryEngine::~DeliveryEngine() {
    queue_.on_due(nullptr);
    pool_.join();
}

void DeliveryEngine::start() {
    started_ = true;
    // Called on the spool's threads: only post a wake-up to the io thread.
    queue_.on_due([this] { asio::post(io_, [this] { wake(); }); });
    spawn(run());
    spdlog::info("delivery started: mode={}", config::to_string(cfg_.delivery_mode));
}

void DeliveryEngine::stop() {
    if (stopping_) return;
    stopping_ = true;
    queue_.on_due(nullptr);
    timer_.cancel();
    for (auto& [key, d] : destinations_) {
        for (auto* t : d->idle) t->cancel();
    }
    spdlog::info("delivery stopping: {} message(s) in flight", in_flight_.size());
}

void DeliveryEngine::spawn(asio::awaitable<void> task) {
    ++coroutines_;
    asio::co_spawn(io_, std::move(task), [this](std::exception_ptr e) {
        --coroutines_;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                spdlog::error("delivery: unexpected exception: {}", x.what());
            }
        }
    });
}

void DeliveryEngine::wake() {
    if (!stopping_) timer_.cancel();
}

asio::awaitable<void> DeliveryEngine::run() {
    while (!stopping_) {
        take_due();
        // Destinations waiting for a rate window or the end of a pause; forget idle ones.
        for (auto it = destinations_.begin(); it != destinations_.end();) {
            auto d = it->second;
            if (!d->jobs.empty()) service(d);
            if (d->jobs.empty() && d->connections == 0 && d->paused_until_ms <= now_ms()) {
                it = destinations_.erase(it);
            } else {
                ++it;
            }
        }
        timer_.expires_after(kTick);
        co_await timer_.async_wait(use_tuple);  // a wake() cancels it
    }
}

void DeliveryEngine::take_due() {
    if (stopping_ || in_flight_.size() >= kMaxInFlight) return;
    // In-flight messages stay due until recorded: ask for enough to see past them.
    std::vector<std::string> ids = queue_.due(now_ms(), kMaxInFlight + in_flight_.size());
    std::vector<std::string> fresh;
    for (std::string& id : ids) {
        if (in_flight_.size() >= kMaxInFlight) break;
        if (in_flight_.insert(id).second) fresh.push_back(std::move(id));
    }
    if (!fresh.empty()) spawn(load(std::move(fresh)));
}

asio::awaitable<void> DeliveryEngine::load(std::vector<std::string> ids) {
    struct Loaded {
        std::optional<queue::DeliveryEntry> entry;
        std::string dkim_header;
    };
    // One open and one pread per message: header, current states, attempts and (for a small
    // message) its bytes, which the transactions then send from memory.
    auto op = on_pool<std::vector<Loaded>>(pool_, [this, ids] {
        std::vector<Loaded> out(ids.size());
        for (size_t i = 0; i < ids.size(); ++i) {
            out[i].entry = queue_.delivery_entry(ids[i], kInlineMessageBytes);
            if (out[i].entry) out[i].dkim_header = dkim_sign(ids[i], *out[i].entry);
        }
        return out;
    });
    std::vector<Loaded> loaded = co_await std::move(op);
    for (size_t i = 0; i < ids.size(); ++i) {
        if (!loaded[i].entry || stopping_) {  // removed meanwhile, or shutting down
            in_flight_.erase(ids[i]);
            continue;
        }
        queue::DeliveryEntry& de = *loaded[i].entry;
        auto work = std::make_shared<MessageWork>();
        work->id = ids[i];
        work->entry = std::move(de.entry);
        work->bounce = queue::is_petrel_bounce(work->entry.envelope);
        work->attempts = de.attempts;
        work->delay_warned = de.delay_warned;
        work->message = std::move(de.message);
        work->dkim_header = std::move(loaded[i].dkim_header);
        dispatch(std::move(work));
    }
}

// Once per message and attempt, before its first transaction (on the pool: it may read the spool
// file). Only mail that leaves by SMTP is signed or sealed: not DSNs petrel wrote, not
// Maildir-only mail. The header section is looked at in the first 64 KiB; only when there is
// work (a key for the From domain, or mx mail to seal: mailauth/outbound.h) is the whole
// message read (signing hashes it in memory: at most the accepted maximum message size).
std::string DeliveryEngine::dkim_sign(const std::string& id, const queue::DeliveryEntry& loaded) const {
    const queue::SpoolEntry& entry = loaded.entry;
    if (!dkim_ || !dkim_->active() || queue::is_petrel_bounce(entry.envelope)) return {};
    bool remote = false;
    for (size_t i = 0; i < entry.envelope.recipients.size(); ++i) {
        remote |= entry.states[i] == queue::RecipientState::Pending &&
                  !listed(cfg_.domains.local, entry.envelope.recipients[i].mailbox.domain);
    }
    if (!remote) return {};
    // A small message is already in memory (delivery_entry read it): no second read.
    std::optional<SpoolSource> src;
    std::string_view head;
    if (loaded.message) {
        head = std::string_view(*loaded.message).substr(0, kDkimHeadBytes);
    } else {
        src.emplace(entry.path, entry.message_offset, entry.message_size);
        std::optional<std::string_view> read = src->read(kDkimHeadBytes);
        if (!read) return {};
        head = *read;
    }
    const size_t end = head.find("\r\n\r\n");
    if (end != std::string_view::npos && !dkim_->has_work(head.substr(0, end + 4), entry.envelope)) return {};
    std::optional<std::string> read_now;
    if (!loaded.message && !(read_now = queue_.message(id))) return {};
    const std::string& message = loaded.message ? *loaded.message : *read_now;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch());
    mailauth::Prepared out = dkim_->prepare(message, entry.envelope, static_cast<uint64_t>(now.count()));
    for (const std::string& w : out.warnings) spdlog::warn("delivery: qid={} {}", id, base::escape_for_log(w));
    if (!out.dkim_domain.empty()) spdlog::info("delivery: qid={} dkim signed d={}", id, out.dkim_domain);
    if (out.arc_instance > 0) spdlog::info("delivery: qid={} arc sealed i={}", id, out.arc_instance);
    return out.fields;
}

std::shared_ptr<Destination> DeliveryEngine::destination_for(const std::string& domain) {
    const config::Delivery& dc = cfg_.delivery;
    const config::Smarthost* relay = nullptr;
    for (const auto& r : dc.routes) {
        if (listed(r.domains, domain)) relay = &r.smarthost;
    }
    if (!relay && cfg_.delivery_mode == config::DeliveryMode::Smarthost && dc.smarthost) {
        relay = &*dc.smarthost;
    }
    std::string key = relay ? "smarthost:" + relay->host + ":" + std::to_string(relay->port)
                            : "mx:" + domain;
    auto& slot = destinations_[key];
    if (slot) return slot;
    slot = std::make_shared<Destination>();
    slot->key = key;
    slot->kind = relay ? RouteKind::Smarthost : RouteKind::Mx;
    slot->domain = domain;
    slot->smarthost = relay;
    slot->policy = dc.defaults;
    for (const auto& p : dc.destinations) {
        if (listed(p.domains, domain)) slot->policy = p;
    }
    return slot;
}

void DeliveryEngine::dispatch(std::shared_ptr<MessageWork> work) {
    const auto& rcpts = work->entry.envelope.recipients;
    Job local{work, {}};
    std::map<std::string, std::pair<std::shared_ptr<Destination>, Job>> remote;
    for (size_t i = 0; i < rcpts.size(); ++i) {
        if (work->entry.states[i] != queue::RecipientState::Pending) continue;
        const std::string& domain = rcpts[i].mailbox.domain;
        if (listed(cfg_.domains.local, domain)) {
            local.rcpts.push_back(i);
            continue;
        }
        auto d = destination_for(domain);
        auto& slot = remote[d->key];
        if (!slot.first) slot = {d, Job{work, {}}};
        slot.second.rcpts.push_back(i);
    }
    work->jobs_left = remote.size() + (local.rcpts.empty() ? 0 : 1);
    if (work->jobs_left == 0) {  // nothing pending after all (changed meanwhile)
        in_flight_.erase(work->id);
        return;
    }
    if (!local.rcpts.empty()) spawn(local_job(std::move(local)));
    for (auto& [key, slot] : remote) {
        auto& [d, job] = slot;
        if (d->paused_until_ms > now_ms()) {
            // The destination is resting (421 / repeated 4xx): defer without trying.
            job.msg->resume_ms = std::max(job.msg->resume_ms, d->paused_until_ms);
            fail_job(job, d->pause_reason, false, "");
            continue;
        }
        d->jobs.push_back(std::move(job));
        service(d);
    }
}

bool DeliveryEngine::may_send(Destination& d, int64_t now) {
    while (!d.sent_ms.empty() && d.sent_ms.front() <= now - 60000) d.sent_ms.pop_front();
    return d.policy.messages_per_minute == 0 || d.sent_ms.size() < d.policy.messages_per_minute;
}

void DeliveryEngine::service(const std::shared_ptr<Destination>& d) {
    if (stopping_ || d->jobs.empty()) return;
    const int64_t now = now_ms();
    if (d->paused_until_ms > now) return;
    // Idle connections take work first (connection reuse); each takes one job when woken.
    size_t reserved = 0;
    for (auto* t : d->idle) {
        if (reserved >= d->jobs.size()) break;
        t->cancel();
        ++reserved;
    }
    while (d->jobs.size() > reserved && d->connections < d->policy.max_connections &&
           may_send(*d, now)) {
        Job job = std::move(d->jobs.front());
        d->jobs.pop_front();
        d->sent_ms.push_back(now);
        ++d->connections;
        spawn(connection(d, std::move(job)));
    }
}

void DeliveryEngine::fail_job(const Job& job, const smtp::Reply& reply, bool from_server,
                              const std::string& mta) {
    std::vector<Outcome> outs;
    for (size_t i : job.rcpts) {
        Outcome o;
        o.index = i;
        o.state = reply.permanent() ? queue::RecipientState::Bounced : queue::RecipientState::Pending;
        o.reply = reply;
        o.from_server = from_server;
        o.remote_mta = mta;
        outs.push_back(std::move(o));
    }
    finish_job(job, std::move(outs));
}

void DeliveryEngine::finish_job(const Job& job, std::vector<Outcome> outcomes) {
    MessageWork& w = *job.msg;
    for (Outcome& o : outcomes) w.outcomes.push_back(std::move(o));
    if (--w.jobs_left == 0) spawn(complete(job.msg));
}

void DeliveryEngine::pause_destination(Destination& d, const smtp::Reply& why, bool at_once) {
    if (!at_once && ++d.strikes < 3) return;
    const config::Delivery& dc = cfg_.delivery;
    int64_t pause = static_cast<int64_t>(dc.destination_backoff.count()) * 1000;
    for (unsigned i = 0; i < d.backoff_level && pause < dc.max_retry.count() * 1000; ++i) pause *= 2;
    pause = std::min<int64_t>(pause, static_cast<int64_t>(dc.max_retry.count()) * 1000);
    ++d.backoff_level;
    d.strikes = 0;
    d.paused_until_ms = now_ms() + pause;
    std::string text = why.lines.empty() ? std::string() : why.lines.front();
    d.pause_reason = smtp::Reply(451, "4.4.5", "delivery to " + d.key.substr(d.key.find(':') + 1) +
                                                   " temporarily suspended: " + text);
    spdlog::warn("delivery: destination {} paused for {}s: {} {}", d.key, pause / 1000, why.code,
                 base::escape_for_log(text));
    // What waits for it is deferred now rather than held in memory for the pause.
    while (!d.jobs.empty()) {
        Job job = std::move(d.jobs.front());
        d.jobs.pop_front();
        job.msg->resume_ms = std::max(job.msg->resume_ms, d.paused_until_ms);
        fail_job(job, d.pause_reason, false, "");
    }
    for (auto* t : d.idle) t->cancel();
}

void DeliveryEngine::destination_ok(Destination& d) {
    d.strikes = 0;
    d.backoff_level = 0;
}

asio::awaitable<void> DeliveryEngine::local_job(Job job) {
    auto op = on_pool<std::vector<Outcome>>(pool_, [this, job] {
        std::vector<Outcome> outs;
        const auto& env = job.msg->entry.envelope;
        std::optional<std::string> message =
            job.msg->message ? job.msg->message : queue_.message(job.msg->id);
        for (size_t i : job.rcpts) {
            Outcome o;
            o.index = i;
            o.remote_mta = cfg_.hostname;
            LocalOutcome r;
            if (!message) r = {false, false, "451 4.3.0 cannot read the queued message"};
            else if (!local_) r = {false, false, "451 4.3.0 local delivery is not available"};
            else r = local_(env.recipients[i].mailbox.local, *message, env);
            o.state = r.ok          ? queue::RecipientState::Delivered
                      : r.permanent ? queue::RecipientState::Bounced
                                    : queue::RecipientState::Pending;
            // "550 5.1.1 text" -> Reply; a reply without a code gets the outcome's class.
            int code = r.ok ? 250 : r.permanent ? 550 : 451;
            std::string text = r.reply, enhanced;
            if (text.size() >= 3 && std::isdigit(static_cast<unsigned char>(text[0]))) {
                code = std::atoi(text.substr(0, 3).c_str());
                text = text.size() > 4 ? text.substr(4) : std::string();
                auto sp = text.find(' ');
                if (sp != std::string::npos && std::isdigit(static_cast<unsigned char>(text[0])) &&
                    text.find('.') < sp) {
                    enhanced = text.substr(0, sp);
                    text = text.substr(sp + 1);
                }
            }
            o.reply = smtp::Reply(code, enhanced, text.empty() ? std::string("local delivery") : text);
            outs.push_back(std::move(o));
        }
        return outs;
    });
    std::vector<Outcome> outs = co_await std::move(op);
    finish_job(job, std::move(outs));
}

}  // namespace petrel::delivery
