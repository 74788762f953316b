// delivery/smtp_delivery.cpp — one outbound SMTP connection for a destination (engine.h):
// plan the hops (MX plan of RFC 5321 §5.1 / RFC 7505, or the smart host), walk hosts and
// addresses until one takes the transaction (next host on a connection failure, a 4xx/5xx
// greeting or EHLO, a TLS failure: RFC 5321 §5.1 "try the next"), run the pure
// smtp::ClientSession over a ClientStream, then reuse the connection for more jobs of the same
// destination until messages_per_connection, and QUIT after idle_timeout without work.
// TLS policy (RFC 3207, RFC 7435): none / opportunistic (unverified) / required (STARTTLS and
// a verified certificate; not offered -> deferred, nothing sent in clear). Smart host: STARTTLS
// required or implicit TLS (RFC 8314 §3), AUTH PLAIN/LOGIN (RFC 4954) only under TLS.
// Trust: the peer's bytes go to the session only; replies reach logs escaped (session events).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/escape.h"
#include "delivery/client_stream.h"
#include "delivery/engine.h"
#include "delivery/spool_source.h"
#include "dns/mx_lookup.h"

namespace petrel::delivery {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxRounds = 10'000'000;  // bounds the session loop (each round reads or acts)

// Failures before MAIL FROM: the transaction never reached this host, another may take it.
bool before_transaction(const std::string& stage) {
    return stage == "greeting" || stage == "EHLO" || stage == "HELO" || stage == "STARTTLS" ||
           stage == "AUTH" || stage == "connection" || stage == "RSET";
}

std::optional<asio::ip::address> literal_address(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        if (host.rfind("IPv6:", 0) == 0) host.remove_prefix(5);
    }
    boost::system::error_code ec;
    auto a = asio::ip::make_address(std::string(host), ec);
    if (ec) return std::nullopt;
    return a;
}

// What a failed MX plan means for the recipients (texts and codes as Postfix's).
smtp::Reply plan_reply(const dns::MxPlan& plan, const std::string& domain) {
    switch (plan.status) {
        case dns::PlanStatus::NullMx:  // RFC 7505 §4.2
            return smtp::Reply(556, "5.1.10", "Domain " + domain + " does not accept mail (nullMX)");
        case dns::PlanStatus::NoSuchDomain:
        case dns::PlanStatus::BadDomain:
            return smtp::Reply(550, "5.1.2", "Host or domain name not found: " + domain);
        case dns::PlanStatus::NoAddress:
            return smtp::Reply(550, "5.4.4", "No address for the mail exchangers of " + domain);
        case dns::PlanStatus::LoopsToSelf:
            return smtp::Reply(550, "5.4.6", "Mail for " + domain + " loops back to myself");
        default:
            return smtp::Reply(451, "4.4.3", "Host or domain name lookup failed: " + domain);
    }
}
}  // namespace

struct DeliveryEngine::Hop {
    std::string host;
    std::vector<tcp::endpoint> endpoints;
};

struct DeliveryEngine::SessionEnd {
    bool next_hop = false;  // the first job never reached this host: try the next one
    smtp::Reply last;       // why, for the deferral when every host failed
    bool last_from_server = false;
};

smtp::ClientConfig DeliveryEngine::client_config(const Destination& d) const {
    smtp::ClientConfig c;
    c.helo_name = cfg_.hostname;
    if (d.kind == RouteKind::Smarthost) {
        const config::Smarthost& s = *d.smarthost;
        c.tls = s.tls == config::SmarthostTls::None ? smtp::TlsMode::None : smtp::TlsMode::Required;
        c.implicit_tls = s.tls == config::SmarthostTls::Implicit;
        if (!s.username.empty()) c.credentials = smtp::ClientCredentials{s.username, s.password};
        c.auth_requires_tls = s.tls != config::SmarthostTls::None;
        return c;
    }
    switch (d.policy.tls) {
        case config::TlsPolicy::None: c.tls = smtp::TlsMode::None; break;
        case config::TlsPolicy::Opportunistic: c.tls = smtp::TlsMode::Opportunistic; break;
        case config::TlsPolicy::Required: c.tls = smtp::TlsMode::Required; break;
    }
    return c;
}

smtp::ClientTransaction DeliveryEngine::transaction(const Job& job) const {
    const queue::SpoolEntry& e = job.msg->entry;
    smtp::ClientTransaction t;
    t.envelope.sender = e.envelope.sender;
    t.envelope.params = e.envelope.params;
    t.envelope.facts = e.envelope.facts;
    for (size_t i : job.rcpts) t.envelope.recipients.push_back(e.envelope.recipients[i]);
    if (job.msg->message) {  // read with the header (engine.cpp, load): no second read
        t.message = std::make_shared<smtp::StringSource>(*job.msg->message);
    } else {
        t.message = std::make_shared<SpoolSource>(e.path, e.message_offset, e.message_size);
    }
    if (!job.msg->dkim_header.empty()) {  // signed once per message (engine.cpp, dkim_sign)
        t.message = std::make_shared<PrefixSource>(job.msg->dkim_header, std::move(t.message));
    }
    t.requires_smtputf8 = e.envelope.params.smtputf8;  // refined by the session's own check
    return t;
}

asio::awaitable<std::vector<DeliveryEngine::Hop>> DeliveryEngine::plan(Destination& d, Job& first,
                                                                       bool& done) {
    std::vector<Hop> hops;
    const uint16_t port = d.kind == RouteKind::Smarthost ? d.smarthost->port
                                                         : cfg_.testing_outbound_port.value_or(25);
    const std::string host = d.kind == RouteKind::Smarthost ? d.smarthost->host : d.domain;
    if (auto lit = literal_address(host)) {  // [192.0.2.1] or a smart host given by address
        hops.push_back({host, {tcp::endpoint(*lit, port)}});
        co_return hops;
    }
    if (d.kind == RouteKind::Smarthost) {
        Hop hop{host, {}};
        auto a_op = resolver_.a(host);
        auto a = co_await std::move(a_op);
        auto aaaa_op = resolver_.aaaa(host);
        auto aaaa = co_await std::move(aaaa_op);
        for (const auto* ans : {&a, &aaaa}) {
            for (const auto& ip : ans->records) {
                hop.endpoints.emplace_back(asio::ip::make_address(ip.to_string()), port);
            }
        }
        if (!hop.endpoints.empty()) hops.push_back(std::move(hop));
        else {
            done = true;
            fail_job(first, smtp::Reply(451, "4.4.3", "cannot resolve the smart host " + host),
                     false, "");
        }
        co_return hops;
    }
    dns::PlanOptions opts;
    opts.local_names = {cfg_.hostname};
    auto op = dns::plan_mx(resolver_, d.domain, opts, rng_);
    dns::MxPlan mx = co_await std::move(op);
    if (mx.status != dns::PlanStatus::Ok) {
        // The same answer holds for every message to this domain waiting now.
        const smtp::Reply r = plan_reply(mx, d.domain);
        spdlog::info("delivery: {}: {} ({})", d.key, r.lines.front(), base::escape_for_log(mx.reason));
        done = true;
        fail_job(first, r, false, "");
        while (!d.jobs.empty()) {
            Job j = std::move(d.jobs.front());
            d.jobs.pop_front();
            fail_job(j, r, false, "");
        }
        co_return hops;
    }
    for (const dns::Target& t : mx.targets) {
        Hop hop{t.host, {}};
        for (const auto& ip : t.addresses) {
            hop.endpoints.emplace_back(asio::ip::make_address(ip.to_string()), port);
        }
        hops.push_back(std::move(hop));
    }
    co_return hops;
}

asio::awaitable<void> DeliveryEngine::connection(std::shared_ptr<Destination> d, Job job) {
    bool done = false;
    auto plan_op = plan(*d, job, done);
    std::vector<Hop> hops = co_await std::move(plan_op);
    SessionEnd end;
    end.last = smtp::Reply(451, "4.4.1", "no mail exchanger could be reached");
    const auto connect_timeout = std::chrono::milliseconds(cfg_.delivery.connect_timeout);
    for (size_t h = 0; h < hops.size() && !done; ++h) {
        for (size_t a = 0; a < hops[h].endpoints.size() && !done && !stopping_; ++a) {
            const tcp::endpoint ep = hops[h].endpoints[a];
            auto stream = std::make_shared<ClientStream>(io_.get_executor());
            auto c = stream->connect(ep, connect_timeout);
            std::string err = co_await std::move(c);
            const std::string where = hops[h].host + "[" + ep.address().to_string() + "]:" +
                                      std::to_string(ep.port());
            if (!err.empty()) {
                spdlog::info("delivery: {} connect to {} failed: {}", d->key, where, err);
                end.last = smtp::Reply(451, "4.4.1", "connect to " + where + ": " + err);
                end.last_from_server = false;
                continue;
            }
            auto cv = converse(*d, hops[h], *stream, job);
            SessionEnd e = co_await std::move(cv);
            co_await stream->close();
            if (e.next_hop) {
                end = std::move(e);
                continue;
            }
            done = true;
        }
    }
    if (!done) {
        // No host took the first job: defer it (or bounce on a last 5xx greeting) and rest the
        // destination so its other mail does not hammer hosts that are down.
        if (!end.last.permanent()) {
            pause_destination(*d, end.last, true);
            job.msg->resume_ms = std::max(job.msg->resume_ms, d->paused_until_ms);
        }
        fail_job(job, end.last, end.last_from_server, hops.empty() ? "" : hops.back().host);
    }
    --d->connections;
    service(d);
}

asio::awaitable<DeliveryEngine::SessionEnd> DeliveryEngine::converse(Destination& d, Hop& hop,
                                                                     ClientStream& s, Job& first) {
    SessionEnd end;
    smtp::ClientConfig cc = client_config(d);
    const auto ms = [](auto x) { return std::chrono::duration_cast<std::chrono::milliseconds>(x); };
    const auto handshake_timeout = ms(30s);
    std::shared_ptr<asio::ssl::context> ctx = tls_opportunistic_;
    bool verify = false;
    std::string tls_name = hop.host;
    if (d.kind == RouteKind::Smarthost) {
        ctx = tls_smarthost_.at(d.smarthost);
        verify = d.smarthost->tls_verify;
    } else if (d.policy.tls == config::TlsPolicy::Required) {
        ctx = tls_verify_.at(d.policy.ca_file);  // built at start-up for every required policy
        verify = true;
    }
    const std::string peer = hop.host + "[" + s.peer() + "]";
    if (cc.implicit_tls) {
        auto hs = s.handshake(ctx, tls_name, verify, handshake_timeout);
        std::string err = co_await std::move(hs);
        if (!err.empty()) {
            spdlog::info("delivery: {} {}: {}", d.key, peer, err);
            end.next_hop = true;
            end.last = smtp::Reply(451, "4.7.5", peer + ": " + err);
            co_return end;
        }
    }
    smtp::ClientSession session(cc);
    Job current = first;
    bool is_first = true;
    bool have_job = true;
    smtp::ClientOutput out = session.send(transaction(current));
    for (size_t round = 0; round < kMaxRounds; ++round) {
        for (const auto& ev : out.events) {
            if (ev.kind == "reply" || ev.kind == "command") spdlog::debug("delivery: {} {} {}", peer, ev.kind, ev.detail);
            else spdlog::info("delivery: {} {} {}", peer, ev.kind, ev.detail);
        }
        if (out.result && have_job) {
            have_job = false;
            const auto& rs = out.result->recipients;
            const bool untried = out.failure && before_transaction(out.failure->stage) &&
                                 std::all_of(rs.begin(), rs.end(), [](const smtp::RecipientResult& r) {
                                     return r.status != smtp::RecipientStatus::Delivered &&
                                            before_transaction(r.stage);
                                 });
            if (untried && is_first) {
                end.next_hop = true;
                end.last = out.failure->reply;
                end.last_from_server = out.failure->from_server;
            } else if (untried && (!out.failure->from_server || out.failure->stage == "RSET")) {
                // A reused connection the server had closed meanwhile, silently or with a
                // goodbye we only read now (Postfix: "421 4.4.2 ... timeout exceeded", the reply
                // RSET then gets): not this job's fault, and no reason to rest the destination.
                // A fresh connection sends no RSET, so the job cannot come back here forever.
                d.jobs.push_front(std::move(current));
            } else {
                std::vector<Outcome> outs;
                bool any_421 = false, all_deferred = true;
                for (const auto& r : rs) {
                    Outcome o;
                    o.index = current.rcpts.at(r.index);
                    o.state = r.status == smtp::RecipientStatus::Delivered ? queue::RecipientState::Delivered
                              : r.status == smtp::RecipientStatus::Failed ? queue::RecipientState::Bounced
                                                                          : queue::RecipientState::Pending;
                    o.reply = r.reply;
                    o.from_server = r.from_server;
                    o.remote_mta = hop.host;
                    o.handoff = session.capabilities().dsn ? Handoff::PassedOn : Handoff::Relayed;
                    any_421 |= r.reply.code == 421;
                    all_deferred &= r.status == smtp::RecipientStatus::Deferred;
                    outs.push_back(std::move(o));
                }
                if (any_421) pause_destination(d, rs.front().reply, true);
                else if (all_deferred && !rs.empty()) pause_destination(d, rs.front().reply, false);
                else destination_ok(d);
                // The message that caused (or met) a pause waits for its end like the others.
                if (d.paused_until_ms > now_ms()) {
                    current.msg->resume_ms = std::max(current.msg->resume_ms, d.paused_until_ms);
                }
                finish_job(current, std::move(outs));
            }
            is_first = false;
        }
        if (!out.wire.empty()) {
            const auto wt = out.action == smtp::ClientAction::SendBody ? ms(cc.limits.data_end_timeout)
                                                                       : ms(cc.limits.command_timeout);
            auto w = s.write_all(out.wire, wt);
            if (!co_await std::move(w)) {
                out = session.connection_lost();
                continue;
            }
        }
        if (out.ready && !have_job) {
            // Reuse: the next job of this destination, within the limits; else idle a while.
            bool quit = false;
            for (int idle_rounds = 0; !have_job && !quit; ++idle_rounds) {
                const int64_t now = now_ms();
                if (stopping_ || d.paused_until_ms > now ||
                    session.transactions() >= d.policy.messages_per_connection || idle_rounds > 1000) {
                    quit = true;
                } else if (!d.jobs.empty() && may_send(d, now)) {
                    current = std::move(d.jobs.front());
                    d.jobs.pop_front();
                    d.sent_ms.push_back(now);
                    have_job = true;
                } else if (cfg_.delivery.idle_timeout.count() == 0) {
                    quit = true;
                } else {
                    asio::steady_timer idle(io_);
                    idle.expires_after(cfg_.delivery.idle_timeout);
                    d.idle.insert(&idle);
                    auto [ec] = co_await idle.async_wait(use_tuple);
                    d.idle.erase(&idle);
                    if (!ec && d.jobs.empty()) quit = true;  // the idle time ran out
                }
            }
            out = have_job ? session.send(transaction(current)) : session.quit();
            continue;
        }
        bool stop = false;
        switch (out.action) {
            case smtp::ClientAction::None: {
                if (session.closed()) {
                    stop = true;
                    break;
                }
                auto rd = s.read_some(session.read_timeout());
                ClientStream::ReadResult r = co_await std::move(rd);
                if (r.status == ClientStream::ReadStatus::Data) out = session.feed(r.data);
                else if (r.status == ClientStream::ReadStatus::Timeout) out = session.timeout();
                else out = session.connection_lost();
                break;
            }
            case smtp::ClientAction::StartTls: {
                auto hs = s.handshake(ctx, tls_name, verify, handshake_timeout);
                std::string err = co_await std::move(hs);
                if (err.empty()) {
                    spdlog::info("delivery: {} tls {}", peer, s.tls_description());
                    out = session.tls_established();
                } else {
                    spdlog::info("delivery: {} {}", peer, err);
                    out = session.connection_lost();
                    if (out.failure) out.failure->reply = smtp::Reply(451, "4.7.5", err);
                }
                break;
            }
            case smtp::ClientAction::SendBody: out = session.continue_body(); break;
            case smtp::ClientAction::Close: stop = true; break;
        }
        if (stop) break;
    }
    if (have_job && is_first) {  // the session ended without a result: never happens, but
        end.next_hop = true;     // the job must not be lost
        end.last = smtp::Reply(451, "4.4.2", peer + ": connection ended");
    } else if (have_job) {
        d.jobs.push_front(std::move(current));  // taken for reuse, never sent
    }
    co_return end;
}

}  // namespace petrel::delivery
