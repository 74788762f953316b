// delivery/reports.cpp — completing a message after a delivery pass (engine.h): one log line
// per recipient, expiry (RFC 5321 §4.5.4.1: give up after the queue lifetime; a bounce petrel
// generated gives up after the shorter bounce lifetime, silently), the next retry time
// (retry_policy.h), the reports (RFC 3461 §4.1 via mail::dsn_wanted: failures, one delay warning
// after delay_warning, successes with NOTIFY=SUCCESS: "delivered" for Maildir, "relayed" to an
// SMTP server without DSN, none when the server has DSN and got NOTIFY, §5.2.2), each
// committed through the queue from "<>" *before* the attempt is recorded (record_attempt
// removes a finished message), then `record_attempt` on the pool (it fsyncs).
// Trust: replies are peer text: escaped in logs; mail::build_dsn sanitizes what it copies.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <future>

#include "base/escape.h"
#include "delivery/engine.h"
#include "delivery/pool_call.h"
#include "mail/dsn.h"

namespace petrel::delivery {

namespace asio = boost::asio;

namespace {
const char* state_word(queue::RecipientState s) {
    switch (s) {
        case queue::RecipientState::Delivered: return "sent";
        case queue::RecipientState::Bounced: return "bounced";
        default: return "deferred";
    }
}

// RFC 3464 §2.3.3: "delivered" at the final destination, "relayed" into a place that does not
// report successes (an SMTP server without DSN).
mail::DsnAction success_action(Handoff h) {
    return h == Handoff::Relayed ? mail::DsnAction::Relayed : mail::DsnAction::Delivered;
}
}  // namespace

asio::awaitable<void> DeliveryEngine::complete(std::shared_ptr<MessageWork> work) {
    MessageWork& w = *work;
    const int64_t now = now_ms();
    const bool expired = retry_.expired(w.entry.created_ms, w.bounce, now);
    for (Outcome& o : w.outcomes) {
        if (o.state == queue::RecipientState::Pending && expired) {
            // RFC 3463 4.4.7: delivery time expired; the last reply stays in the text.
            std::string last = smtp::reply_text(o.reply);
            o.state = queue::RecipientState::Bounced;
            o.reply = smtp::Reply(451, "4.4.7",
                                  "message expired in queue; last error: " + last);
            o.from_server = false;
        }
        spdlog::info("qid={} to=<{}> relay={} status={} reply={}", w.id,
                     base::escape_for_log(w.entry.envelope.recipients[o.index].mailbox.str()),
                     o.remote_mta.empty() ? "none" : o.remote_mta, state_word(o.state),
                     base::escape_for_log(smtp::reply_text(o.reply), 300));
    }
    if (!w.bounce) {
        // Before the retry time: a failure report that cannot be queued puts its recipients
        // back to pending.
        auto rep = send_reports(w, now, expired);
        co_await std::move(rep);
    } else if (expired) {
        spdlog::warn("qid={} bounce dropped: bounce lifetime over", w.id);
    }
    const bool pending = std::any_of(w.outcomes.begin(), w.outcomes.end(), [](const Outcome& o) {
        return o.state == queue::RecipientState::Pending;
    });
    int64_t next = 0;
    if (pending) {
        next = now + retry_.delay_ms(w.attempts + 1, rng_);
        next = std::max(next, w.resume_ms);
        // Never past the expiry: the message bounces on time, not one interval late — unless
        // its bounce could not be queued, which is retried after a full interval, not in a loop.
        if (!w.failure_report_lost) next = std::min(next, w.entry.created_ms + retry_.lifetime_ms(w.bounce));
        next = std::max(next, now + 500);
    }
    std::vector<queue::RecipientResult> results;
    for (const Outcome& o : w.outcomes) {
        results.push_back({o.index, o.state, smtp::reply_text(o.reply)});
    }
    const bool sent_warning = w.delay_warning_sent;
    auto op = on_pool<queue::ControlResult>(pool_, [this, id = w.id, results, next, sent_warning] {
        return queue_.record_attempt(id, results, next, sent_warning);
    });
    queue::ControlResult r = co_await std::move(op);
    if (r != queue::ControlResult::Ok && r != queue::ControlResult::NotFound) {
        spdlog::error("qid={} cannot record the delivery attempt", w.id);
    }
    in_flight_.erase(w.id);
}

asio::awaitable<void> DeliveryEngine::send_reports(MessageWork& w, int64_t now, bool expired) {
    const mail::Envelope& env = w.entry.envelope;
    std::vector<mail::DsnRecipient> failed, delayed, delivered;
    std::vector<Outcome*> failed_outcomes;  // the recipients the failure report is about
    const bool warn_delay = !expired && cfg_.delivery.delay_warning.count() > 0 &&
                            now - w.entry.created_ms >= cfg_.delivery.delay_warning.count() * 1000 &&
                            !w.delay_warned;
    for (Outcome& o : w.outcomes) {
        const mail::Recipient& rc = env.recipients[o.index];
        mail::DsnRecipient d;
        d.recipient = rc;
        d.status = o.reply.enhanced.empty() ? mail::dsn_status_for(o.reply.code, o.reply.enhanced)
                                            : o.reply.enhanced;
        d.remote_mta = o.from_server ? o.remote_mta : std::string();
        d.diagnostic = o.from_server ? smtp::reply_text(o.reply) : std::string();
        d.last_attempt = static_cast<std::time_t>(now / 1000);
        if (o.state == queue::RecipientState::Bounced &&
            mail::dsn_wanted(env, rc, mail::DsnAction::Failed)) {
            d.action = mail::DsnAction::Failed;
            if (!o.from_server) d.diagnostic.clear();
            failed.push_back(std::move(d));
            failed_outcomes.push_back(&o);
        } else if (o.state == queue::RecipientState::Pending && warn_delay &&
                   mail::dsn_wanted(env, rc, mail::DsnAction::Delayed)) {
            d.action = mail::DsnAction::Delayed;
            d.will_retry_until = static_cast<std::time_t>(
                (w.entry.created_ms + retry_.lifetime_ms(false)) / 1000);
            delayed.push_back(std::move(d));
        } else if (o.state == queue::RecipientState::Delivered && o.handoff != Handoff::PassedOn &&
                   mail::dsn_wanted(env, rc, success_action(o.handoff))) {
            d.action = success_action(o.handoff);
            delivered.push_back(std::move(d));
        }
    }
    if (failed.empty() && delayed.empty() && delivered.empty()) co_return;
    std::optional<std::string> original = w.message;
    if (!original) {
        auto read = on_pool<std::optional<std::string>>(pool_, [this, id = w.id] { return queue_.message(id); });
        original = co_await std::move(read);
    }
    // RFC 5321 §6.1: a failure must be reported. If its report cannot be queued, the
    // recipients are not recorded as bounced: they stay pending, and a later attempt (after a
    // full retry interval) fails and reports them again.
    auto keep_failed_pending = [&] {
        for (Outcome* o : failed_outcomes) {
            o->state = queue::RecipientState::Pending;
            spdlog::warn("qid={} to=<{}> failure report not queued: kept for a later attempt",
                         w.id, base::escape_for_log(env.recipients[o->index].mailbox.str()));
        }
        w.failure_report_lost = !failed_outcomes.empty();
    };
    if (!original) {
        spdlog::error("qid={} cannot read the message for its report", w.id);
        keep_failed_pending();
        co_return;
    }
    for (auto* group : {&failed, &delayed, &delivered}) {
        if (group->empty()) continue;
        mail::DsnInput in;
        in.envelope = &env;
        in.original = *original;
        in.recipients = std::move(*group);
        in.reporting_mta = cfg_.hostname;
        in.arrival = static_cast<std::time_t>(w.entry.created_ms / 1000);
        in.now = static_cast<std::time_t>(now / 1000);
        const std::string id = queue_.new_id();
        in.message_id = "<" + id + "@" + cfg_.hostname + ">";
        std::optional<mail::DsnMessage> dsn = mail::build_dsn(in);
        if (!dsn) continue;
        dsn->envelope.facts = mail::SessionFacts{};
        dsn->envelope.facts.listener = std::string(queue::kBounceListener);
        dsn->envelope.facts.helo = cfg_.hostname;
        // The queue's completion comes on a spool thread: hand it back through the pool helper.
        auto commit = on_pool<queue::CommitOutcome>(pool_, [this, id, dsn = std::move(*dsn)]() mutable {
            std::promise<queue::CommitOutcome> p;
            auto f = p.get_future();
            queue_.commit(id, std::move(dsn.envelope), std::move(dsn.message),
                          [&p](queue::CommitOutcome o) { p.set_value(std::move(o)); });
            return f.get();
        });
        queue::CommitOutcome c = co_await std::move(commit);
        if (c.status == queue::CommitStatus::Ok) {
            if (group == &delayed) w.delay_warning_sent = true;  // journaled by record_attempt
            spdlog::info("qid={} report qid={} to=<{}> ({})", w.id, id,
                         base::escape_for_log(env.sender ? env.sender->str() : ""),
                         group == &failed ? "failed" : group == &delayed ? "delayed" : "success");
        } else {
            spdlog::error("qid={} cannot queue its report: {}", w.id, c.detail);
            if (group == &failed) keep_failed_pending();
        }
    }
}

}  // namespace petrel::delivery
