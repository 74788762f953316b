// queue/queue_manager.cpp — see queue_manager.h: commit into the index, the operator's
// controls, delivery results. Recovery is in queue_recovery.cpp, the index in queue_index.h.
// Trust: IDs from operators are checked with base::is_valid_queue_id before any path is built;
// what a peer sent (replies) reaches the journal encoded and the log escaped.
#include "queue/queue_manager.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>

#include "base/escape.h"
#include "base/ids.h"
#include "queue/queue_index.h"

namespace petrel::queue {

int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

MessageState message_state(const IndexEntry& e, int64_t now_ms) {
    if (e.held()) return MessageState::Held;
    if (e.all_captured()) return MessageState::Captured;
    if (!e.has(RecipientState::Pending)) return MessageState::Done;
    if (e.attempts > 0 && e.next_attempt_ms > now_ms) return MessageState::Deferred;
    return MessageState::Queued;
}

QueueManager::Impl::Impl(FileSpool& s)
    : spool(s), journal(s.segments_dir().substr(0, s.segments_dir().rfind('/')) + "/state") {}

namespace {
// Domains are kept in lower case (the envelope's are already: A-labels), so a filter given in
// any case matches.
std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

uint32_t QueueManager::Impl::intern(const std::string& domain) {
    std::string key = lower(domain);
    std::lock_guard lk(dom_mu);
    auto [it, added] = domain_ids.try_emplace(key, static_cast<uint32_t>(domains.size()));
    if (added) domains.push_back(std::move(key));
    return it->second;
}

std::optional<uint32_t> QueueManager::Impl::find_domain(const std::string& domain) const {
    const std::string key = lower(domain);
    std::lock_guard lk(dom_mu);
    auto it = domain_ids.find(key);
    if (it == domain_ids.end()) return std::nullopt;
    return it->second;
}

std::mutex& QueueManager::Impl::stripe(const QueueKey& k) {
    // The last characters of an ID are its counter: they spread well.
    return stripes[(static_cast<unsigned char>(k[13]) * 31u + static_cast<unsigned char>(k[12])) %
                   stripes.size()];
}

void QueueManager::Impl::insert(const QueueKey& k, IndexEntry e) {
    auto [it, added] = index.insert_or_assign(k, std::move(e));
    reschedule(k, it->second);
}

void QueueManager::Impl::unschedule(const QueueKey& k, const IndexEntry& e) {
    schedule.erase({e.next_attempt_ms, k});
}

void QueueManager::Impl::reschedule(const QueueKey& k, const IndexEntry& e) {
    if (e.schedulable()) schedule.insert({e.next_attempt_ms, k});
}

void QueueManager::Impl::erase(const QueueKey& k) {
    std::lock_guard lk(mu);
    auto it = index.find(k);
    if (it == index.end()) return;
    unschedule(k, it->second);
    index.erase(it);
}

void QueueManager::Impl::back_off(const QueueKey& k, int64_t next_attempt_ms) {
    std::lock_guard lk(mu);
    auto it = index.find(k);
    if (it == index.end()) return;
    unschedule(k, it->second);
    it->second.next_attempt_ms =
        std::max({it->second.next_attempt_ms, next_attempt_ms, wall_ms() + kFailedRecordBackoffMs});
    reschedule(k, it->second);
}

void QueueManager::Impl::notify_due() {
    std::function<void()> cb;
    {
        std::lock_guard lk(cb_mu);
        cb = on_due;
    }
    if (cb) cb();
}

ReadResult QueueManager::Impl::read(const IndexEntry& e, uint64_t inline_max) const {
    return read_spool_record(spool.segment_path(e.where.segment), e.where.offset, e.record_bytes(),
                             inline_max);
}

bool QueueManager::Impl::remove_files(const std::string& id, const IndexEntry& e, std::string& error) {
    // The message first, its journal only once the tombstone is durable: a journal left behind
    // alone is removed at the next recovery, while a message that came back without its journal
    // would be delivered again to recipients already done.
    std::function<void()> then;
    if (e.flags & IndexEntry::kJournal) {
        then = [this, id] { journal.remove(id); };
    }
    return spool.remove_message(e.where, id, e.record_bytes(), std::move(then), &error);
}

namespace {

std::string address_of(const mail::Mailbox& m) { return m.domain.empty() ? m.local : m.str(); }

bool matches(const IndexEntry& e, std::optional<uint32_t> domain,
             const std::optional<MessageState>& state, int64_t now) {
    if (domain) {
        bool any = false;
        for (const IndexRecipient& r : e.rcpts) any |= r.domain == *domain;
        if (!any) return false;
    }
    return !state || message_state(e, now) == *state;
}

// What the index knows, completed from the spool header and the journal on disk. False when
// the message is gone (removed meanwhile) or its file cannot be read.
bool fill_info(const QueueManager::Impl& m, const std::string& id, const IndexEntry& e,
               int64_t now, MessageInfo& info) {
    ReadResult r = m.read(e);
    if (!r.ok) return false;
    MessageProgress p = initial_progress(r.entry.states);
    auto bytes = (e.flags & IndexEntry::kJournal) ? m.journal.read(id) : std::nullopt;
    if (bytes) {
        for (const JournalRecord& rec : parse_journal(*bytes, p.recipients.size()).records) {
            apply_journal_record(rec, p);
        }
    }
    info.id = id;
    info.created_ms = e.created_ms;
    info.size = e.size;
    info.sender = r.entry.envelope.sender ? address_of(*r.entry.envelope.sender) : "";
    info.state = message_state(e, now);
    info.is_bounce = e.flags & IndexEntry::kNullSender;
    info.attempts = e.attempts;
    info.next_attempt_ms = e.next_attempt_ms;
    info.last_error = p.last_error;
    const auto& rcpts = r.entry.envelope.recipients;
    info.recipients.clear();
    for (size_t i = 0; i < rcpts.size(); ++i) {
        RecipientStatus s;
        s.address = address_of(rcpts[i].mailbox);
        // The index is authoritative for state and counts; the journal adds the reply text.
        s.state = i < e.rcpts.size() ? e.rcpts[i].st() : p.recipients[i].state;
        s.attempts = i < e.rcpts.size() ? e.rcpts[i].attempts : p.recipients[i].attempts;
        s.last_error = p.recipients[i].reply;
        info.recipients.push_back(std::move(s));
    }
    return true;
}

}  // namespace

QueueManager::QueueManager(FileSpool& spool) : impl_(std::make_unique<Impl>(spool)) {}

QueueManager::~QueueManager() {
    {
        std::lock_guard lk(impl_->compact_mu);
        impl_->compact_stop = true;
    }
    impl_->compact_cv.notify_all();
    if (impl_->compactor.joinable()) impl_->compactor.join();
    // The spool may still complete a commit into the index: wait for those callbacks.
    std::unique_lock lk(impl_->flight_mu);
    impl_->flight_cv.wait(lk, [&] { return impl_->in_flight == 0; });
}

std::string QueueManager::new_id() { return impl_->spool.new_id(); }

void QueueManager::commit(std::string id, mail::Envelope envelope, std::string message,
                          std::function<void(CommitOutcome)> done) {
    Impl& m = *impl_;
    IndexEntry e;
    e.created_ms = wall_ms();
    e.size = message.size();
    if (is_petrel_bounce(envelope)) e.flags |= IndexEntry::kNullSender;
    const auto initial = m.spool.capture() ? RecipientState::Captured : RecipientState::Pending;
    for (const mail::Recipient& r : envelope.recipients) {
        e.rcpts.push_back({m.intern(r.mailbox.domain), 0, static_cast<uint8_t>(initial)});
    }
    const bool valid = base::is_valid_queue_id(id);  // the spool refuses the commit otherwise
    QueueKey key = make_key(id);
    {
        std::lock_guard lk(m.flight_mu);
        ++m.in_flight;
    }
    const int64_t created = e.created_ms;
    m.spool.commit_at(std::move(id), std::move(envelope), std::move(message), created,
                      [&m, key, valid, e = std::move(e), done = std::move(done)](CommitOutcome o) mutable {
                          const bool ok = o.status == CommitStatus::Ok && valid;
                          const bool due = ok && e.schedulable();
                          if (ok) {
                              e.where = o.location;
                              std::lock_guard lk(m.mu);
                              m.insert(key, std::move(e));
                          }
                          if (due) m.notify_due();  // a wake-up only: it must be quick
                          done(std::move(o));       // only now may the session reply 250
                          std::lock_guard lk(m.flight_mu);
                          if (--m.in_flight == 0) m.flight_cv.notify_all();
                      });
}

ListPage QueueManager::list(const ListQuery& q) const {
    const Impl& m = *impl_;
    const int64_t now = wall_ms();
    ListPage page;
    std::vector<std::pair<QueueKey, IndexEntry>> picked;
    {
        std::lock_guard lk(m.mu);
        page.total = m.index.size();
        if (q.limit == 0) return page;  // only the count
        std::optional<uint32_t> domain;
        if (!q.recipient_domain.empty()) {
            domain = m.find_domain(q.recipient_domain);
            if (!domain) return page;  // no message ever had a recipient there
        }
        auto it = q.after_id.empty() ? m.index.begin() : m.index.upper_bound(make_key(q.after_id));
        for (; it != m.index.end(); ++it) {
            if (!matches(it->second, domain, q.state, now)) continue;
            if (picked.size() == q.limit) {  // one more match exists: there is a next page
                page.next_after = key_string(picked.back().first);
                break;
            }
            picked.emplace_back(it->first, it->second);
        }
    }
    for (const auto& [key, e] : picked) {  // disk reads outside the lock
        MessageInfo info;
        if (fill_info(m, key_string(key), e, now, info)) page.messages.push_back(std::move(info));
    }
    return page;
}

std::optional<MessageInfo> QueueManager::info(const std::string& id) const {
    if (!base::is_valid_queue_id(id)) return std::nullopt;
    IndexEntry e;
    {
        std::lock_guard lk(impl_->mu);
        auto it = impl_->index.find(make_key(id));
        if (it == impl_->index.end()) return std::nullopt;
        e = it->second;
    }
    MessageInfo out;
    if (!fill_info(*impl_, id, e, wall_ms(), out)) return std::nullopt;
    return out;
}

namespace {
// The index entry of `id`, copied (so disk reads happen outside the lock).
std::optional<IndexEntry> find_entry(const QueueManager::Impl& m, const std::string& id) {
    if (!base::is_valid_queue_id(id)) return std::nullopt;
    std::lock_guard lk(m.mu);
    auto it = m.index.find(make_key(id));
    if (it == m.index.end()) return std::nullopt;
    return it->second;
}

// The current states (the index's), not the commit's.
void current_states(const IndexEntry& e, SpoolEntry& s) {
    for (size_t i = 0; i < s.states.size() && i < e.rcpts.size(); ++i) s.states[i] = e.rcpts[i].st();
}
}  // namespace

std::optional<SpoolEntry> QueueManager::entry(const std::string& id) const {
    auto e = find_entry(*impl_, id);
    if (!e) return std::nullopt;
    ReadResult r = impl_->read(*e);
    if (!r.ok) return std::nullopt;
    current_states(*e, r.entry);
    return std::move(r.entry);
}

std::optional<DeliveryEntry> QueueManager::delivery_entry(const std::string& id,
                                                          uint64_t inline_max) const {
    auto e = find_entry(*impl_, id);
    if (!e) return std::nullopt;
    ReadResult r = impl_->read(*e, inline_max);
    if (!r.ok) return std::nullopt;
    DeliveryEntry out;
    current_states(*e, r.entry);
    out.attempts = e->attempts;
    out.delay_warned = e->flags & IndexEntry::kDelayWarned;
    out.entry = std::move(r.entry);
    out.message = std::move(r.message);
    return out;
}

std::optional<std::string> QueueManager::message(const std::string& id) const {
    auto e = find_entry(*impl_, id);
    if (!e) return std::nullopt;
    ReadResult r = impl_->read(*e, e->record_bytes());
    if (!r.ok || !r.message) return std::nullopt;
    return std::move(*r.message);
}

uint64_t QueueManager::size() const {
    std::lock_guard lk(impl_->mu);
    return impl_->index.size();
}

void QueueManager::on_due(std::function<void()> callback) {
    std::lock_guard lk(impl_->cb_mu);
    impl_->on_due = std::move(callback);
}

std::vector<std::string> QueueManager::due(int64_t now_ms, size_t limit) const {
    std::vector<std::string> out;
    std::lock_guard lk(impl_->mu);
    for (const auto& [when, key] : impl_->schedule) {
        if (when > now_ms || out.size() >= limit) break;
        out.push_back(key_string(key));
    }
    return out;
}

}  // namespace petrel::queue
