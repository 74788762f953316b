// queue/queue_controls.cpp — the queue manager's state changes (queue_manager.h): the
// operator's hold, release, delete and flush, and delivery's `record_attempt`.
// Each change of one message runs under that message's stripe lock, so its journal appends and
// unlinks are ordered; the index lock is held only around memory updates, never over an fsync.
// A change is written to the journal (docs/queue-format.md, "State journal") before the index
// shows it, and the call returns only once it is on stable storage.
// Trust: IDs are checked with base::is_valid_queue_id; replies are peer text: they are encoded
// in the journal and escaped in the log.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "base/escape.h"
#include "base/ids.h"
#include "queue/queue_index.h"

namespace petrel::queue {

namespace {

}  // namespace

ControlResult QueueManager::hold(const std::string& id) { return set_held(id, true); }
ControlResult QueueManager::release(const std::string& id) { return set_held(id, false); }

ControlResult QueueManager::set_held(const std::string& id, bool held) {
    if (!base::is_valid_queue_id(id)) return ControlResult::Invalid;
    Impl& m = *impl_;
    const QueueKey key = make_key(id);
    std::lock_guard change(m.stripe(key));
    {
        std::lock_guard lk(m.mu);
        auto it = m.index.find(key);
        if (it == m.index.end()) return ControlResult::NotFound;
        if (it->second.held() == held) return ControlResult::Ok;  // nothing to write
    }
    JournalRecord rec;
    rec.kind = JournalRecord::Kind::Hold;
    rec.time_ms = wall_ms();
    rec.held = held;
    std::string error;
    if (!m.journal.append(id, rec, error)) {
        spdlog::error("qid={} {} failed: {}", id, held ? "hold" : "release", error);
        return ControlResult::IoError;
    }
    bool due = false;
    {
        std::lock_guard lk(m.mu);
        auto it = m.index.find(key);
        if (it == m.index.end()) return ControlResult::NotFound;  // cannot happen: stripe held
        m.unschedule(key, it->second);
        it->second.flags |= IndexEntry::kJournal;
        if (held) it->second.flags |= IndexEntry::kHeld;
        else it->second.flags &= static_cast<uint8_t>(~IndexEntry::kHeld);
        m.reschedule(key, it->second);
        due = !held && it->second.schedulable() && it->second.next_attempt_ms <= wall_ms();
    }
    spdlog::info("qid={} {} by the operator", id, held ? "held" : "released");
    if (due) m.notify_due();
    return ControlResult::Ok;
}

// Removes one message (not yet durable: the caller syncs the tombstones).
ControlResult QueueManager::remove_one(const std::string& id, const char* why) {
    Impl& m = *impl_;
    const QueueKey key = make_key(id);
    std::lock_guard change(m.stripe(key));
    IndexEntry e;
    {
        std::lock_guard lk(m.mu);
        auto it = m.index.find(key);
        if (it == m.index.end()) return ControlResult::NotFound;
        e = it->second;
    }
    std::string error;
    if (!m.remove_files(id, e, error)) {
        spdlog::error("qid={} cannot remove: {}", id, error);
        return ControlResult::IoError;
    }
    m.erase(key);
    spdlog::info("qid={} removed: {}", id, why);
    return ControlResult::Ok;
}

ControlResult QueueManager::remove(const std::string& id) {
    if (!base::is_valid_queue_id(id)) return ControlResult::Invalid;
    if (ControlResult r = remove_one(id, "deleted by the operator"); r != ControlResult::Ok) return r;
    if (!impl_->spool.sync_removals()) {
        spdlog::error("qid={} removal not synced: fdatasync of its tombstone failed", id);
        return ControlResult::IoError;
    }
    return ControlResult::Ok;
}

uint64_t QueueManager::remove_by_recipient_domain(const std::string& domain) {
    Impl& m = *impl_;
    std::vector<std::string> ids;
    {
        std::lock_guard lk(m.mu);
        auto dom = m.find_domain(domain);
        if (!dom) return 0;
        for (const auto& [key, e] : m.index) {
            if (std::any_of(e.rcpts.begin(), e.rcpts.end(),
                            [&](const IndexRecipient& r) { return r.domain == *dom; })) {
                ids.push_back(key_string(key));
            }
        }
    }
    uint64_t removed = 0;
    const std::string why = "deleted by the operator (recipient domain " + base::escape_for_log(domain) + ")";
    for (const std::string& id : ids) removed += remove_one(id, why.c_str()) == ControlResult::Ok ? 1 : 0;
    if (removed != 0 && !m.spool.sync_removals()) {  // one sync round for all of them
        spdlog::error("queue: removal of {} message(s) not synced: fsync failed", removed);
    }
    return removed;
}

uint64_t QueueManager::flush(const std::string& id) {
    // Not journaled: a flush lost in a crash only leaves the old retry time, which is safe.
    Impl& m = *impl_;
    if (!id.empty() && !base::is_valid_queue_id(id)) return 0;
    uint64_t n = 0;
    {
        std::lock_guard lk(m.mu);
        auto one = [&](const QueueKey& key, IndexEntry& e) {
            if (!e.schedulable()) return;  // held, captured or finished: nothing to flush
            m.unschedule(key, e);
            e.next_attempt_ms = 0;
            m.reschedule(key, e);
            ++n;
        };
        if (!id.empty()) {
            auto it = m.index.find(make_key(id));
            if (it != m.index.end()) one(it->first, it->second);
        } else {
            for (auto& [key, e] : m.index) one(key, e);
        }
    }
    if (n != 0) {
        spdlog::info("{} flushed: {} message(s) due now", id.empty() ? "queue" : "qid=" + id, n);
        m.notify_due();
    }
    return n;
}

ControlResult QueueManager::record_attempt(const std::string& id,
                                           const std::vector<RecipientResult>& results,
                                           int64_t next_attempt_ms, bool delay_warned) {
    if (!base::is_valid_queue_id(id)) return ControlResult::Invalid;
    Impl& m = *impl_;
    const QueueKey key = make_key(id);
    std::lock_guard change(m.stripe(key));
    IndexEntry updated;
    JournalRecord rec;
    rec.kind = JournalRecord::Kind::Attempt;
    rec.time_ms = wall_ms();
    size_t delivered = 0, bounced = 0, deferred = 0;
    {
        std::lock_guard lk(m.mu);
        auto it = m.index.find(key);
        if (it == m.index.end()) return ControlResult::NotFound;
        updated = it->second;
    }
    for (const RecipientResult& r : results) {
        if (r.index >= updated.rcpts.size() || r.state == RecipientState::Captured) {
            return ControlResult::Invalid;
        }
        IndexRecipient& rc = updated.rcpts[r.index];
        // A recipient already done stays done (a late or repeated report changes nothing).
        if (rc.st() != RecipientState::Pending) continue;
        rc.state = static_cast<uint8_t>(r.state);
        if (rc.attempts < std::numeric_limits<uint16_t>::max()) ++rc.attempts;
        rec.recipients.push_back({static_cast<uint32_t>(r.index), r.state, rc.attempts, r.reply});
        (r.state == RecipientState::Delivered ? delivered
         : r.state == RecipientState::Bounced ? bounced
                                              : deferred)++;
    }
    ++updated.attempts;
    updated.next_attempt_ms = next_attempt_ms;
    rec.attempts = updated.attempts;
    rec.next_attempt_ms = next_attempt_ms;
    std::string error;
    if (updated.finished()) {
        // Nothing left: a tombstone, synced together with other removals
        // (FileSpool::sync_removals_soon). A crash before it brings the message back with its
        // old journal, and delivery repeats (at-least-once, RFC 5321 §6.1); no record of ours
        // and no reply to anyone depends on the removal being durable.
        if (!m.remove_files(id, updated, error)) {
            spdlog::error("qid={} cannot remove the finished message: {}", id, error);
            m.back_off(key, next_attempt_ms);
            return ControlResult::IoError;
        }
        m.erase(key);
        m.spool.sync_removals_soon();
        spdlog::info("qid={} finished: {} delivered, {} bounced in this attempt; removed from the spool",
                     id, delivered, bounced);
        return ControlResult::Ok;
    }
    std::vector<JournalRecord> records{std::move(rec)};
    const bool warn = delay_warned && !(updated.flags & IndexEntry::kDelayWarned);
    if (warn) {
        JournalRecord w;
        w.kind = JournalRecord::Kind::DelayWarned;
        w.time_ms = records.front().time_ms;
        records.push_back(std::move(w));
    }
    if (!m.journal.append(id, records, error)) {
        spdlog::error("qid={} cannot record the attempt: {}", id, error);
        m.back_off(key, next_attempt_ms);
        return ControlResult::IoError;
    }
    {
        std::lock_guard lk(m.mu);
        auto it = m.index.find(key);
        if (it == m.index.end()) return ControlResult::NotFound;  // cannot happen: stripe held
        m.unschedule(key, it->second);
        it->second.flags |= IndexEntry::kJournal;
        if (warn) it->second.flags |= IndexEntry::kDelayWarned;
        it->second.rcpts = std::move(updated.rcpts);
        it->second.attempts = updated.attempts;
        it->second.next_attempt_ms = updated.next_attempt_ms;
        m.reschedule(key, it->second);
    }
    spdlog::debug("qid={} attempt {}: {} delivered, {} bounced, {} deferred", id, updated.attempts,
                  delivered, bounced, deferred);
    return ControlResult::Ok;
}

}  // namespace petrel::queue
