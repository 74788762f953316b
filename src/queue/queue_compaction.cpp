// queue/queue_compaction.cpp — QueueManager::compact and start_compaction (queue_manager.h,
// docs/queue-format.md "Compaction"): messages still in sparse segments are written again to
// the active segment so the old segments can be unlinked.
// Order for each message, which keeps one durable copy at every moment: the new copy is
// committed (fdatasync), the index points at it, then the old record gets its tombstone
// (synced with the next removal round). A crash in between leaves two copies of the same
// bytes in two segments; recovery keeps the older and tombstones the other.
// Trust: nothing from outside; the records were checked when they were read back.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "queue/queue_index.h"

namespace petrel::queue {

namespace {

constexpr size_t kGroup = 256;  // messages moved per shared fdatasync
constexpr int64_t kDueMarginMs = 60'000;  // messages due sooner are not moved

struct Move {
    std::string id;
    IndexEntry old;  // as the index had it (stripe held: it cannot change meanwhile)
    CommitOutcome outcome;
    bool submitted = false;
};

}  // namespace

CompactionStats QueueManager::compact(unsigned max_live_percent, uint64_t min_dead_bytes,
                                      size_t max_messages) {
    Impl& m = *impl_;
    CompactionStats st;
    const std::vector<uint32_t> sparse = m.spool.sparse_segments(max_live_percent, min_dead_bytes);
    st.segments = sparse.size();
    if (sparse.empty()) return st;
    std::vector<std::string> ids;
    const int64_t soon = wall_ms() + kDueMarginMs;
    {
        std::lock_guard lk(m.mu);
        for (const auto& [key, e] : m.index) {
            // A message due now or soon may be in delivery's hands, which reads it from its
            // place (a large one by path, later): leave it; the long-deferred, held or captured
            // ones are those that keep sparse segments alive.
            if (e.schedulable() && e.next_attempt_ms <= soon) continue;
            if (std::binary_search(sparse.begin(), sparse.end(), e.where.segment)) {
                ids.push_back(key_string(key));
                if (ids.size() >= max_messages) break;
            }
        }
    }
    for (size_t from = 0; from < ids.size(); from += kGroup) {
        const size_t to = std::min(ids.size(), from + kGroup);
        // The group's stripes, each once, in one global order (every other path holds at most
        // one stripe at a time, so no deadlock): the messages cannot change while they move.
        std::vector<std::mutex*> locks;
        for (size_t i = from; i < to; ++i) locks.push_back(&m.stripe(make_key(ids[i])));
        std::sort(locks.begin(), locks.end());
        locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
        for (std::mutex* l : locks) l->lock();

        std::vector<Move> moves;
        moves.reserve(to - from);
        std::mutex done_mu;
        std::condition_variable done_cv;
        size_t pending = 0;
        for (size_t i = from; i < to; ++i) {
            Move mv;
            mv.id = ids[i];
            {
                std::lock_guard lk(m.mu);
                auto it = m.index.find(make_key(mv.id));
                if (it == m.index.end()) continue;  // removed since the list was made
                mv.old = it->second;
            }
            moves.push_back(std::move(mv));
        }
        for (Move& mv : moves) {
            ReadResult r = m.read(mv.old, mv.old.record_bytes());
            if (!r.ok || !r.message) {
                spdlog::error("qid={} not moved by compaction: {}", mv.id, r.ok ? "no message" : r.error);
                ++st.failed;
                continue;
            }
            {
                std::lock_guard lk(done_mu);
                ++pending;
            }
            mv.submitted = true;
            // The same header (creation time, envelope, the states at commit) and message: the
            // same bytes, so the journal applies to the copy unchanged.
            m.spool.commit_at(mv.id, std::move(r.entry.envelope), std::move(*r.message),
                              r.entry.created_ms,
                              [&done_mu, &done_cv, &pending, &mv](CommitOutcome o) {
                                  std::lock_guard lk(done_mu);
                                  mv.outcome = std::move(o);
                                  if (--pending == 0) done_cv.notify_all();
                              },
                              &r.entry.states);
        }
        {
            std::unique_lock lk(done_mu);
            done_cv.wait(lk, [&] { return pending == 0; });
        }
        for (Move& mv : moves) {
            if (!mv.submitted) continue;
            if (mv.outcome.status != CommitStatus::Ok) {
                spdlog::warn("qid={} not moved by compaction: {}", mv.id, mv.outcome.detail);
                ++st.failed;
                continue;
            }
            {
                std::lock_guard lk(m.mu);
                auto it = m.index.find(make_key(mv.id));
                if (it != m.index.end()) it->second.where = mv.outcome.location;
            }
            std::string error;
            if (!m.spool.remove_message(mv.old.where, mv.id, mv.old.record_bytes(), nullptr, &error)) {
                // Two copies until the next start, which keeps one.
                spdlog::error("qid={} compaction: the old copy stays: {}", mv.id, error);
            }
            ++st.moved;
            st.moved_bytes += mv.old.record_bytes();
        }
        for (std::mutex* l : locks) l->unlock();
    }
    m.spool.sync_removals_soon();
    if (st.moved != 0 || st.failed != 0) {
        spdlog::info("queue compaction: {} message(s), {} bytes moved out of {} sparse segment(s), "
                     "{} failed",
                     st.moved, st.moved_bytes, st.segments, st.failed);
    }
    return st;
}

void QueueManager::start_compaction(std::chrono::milliseconds interval) {
    Impl& m = *impl_;
    if (m.compactor.joinable()) return;
    m.compactor = std::thread([this, &m, interval] {
        std::unique_lock lk(m.compact_mu);
        while (!m.compact_cv.wait_for(lk, interval, [&] { return m.compact_stop; })) {
            lk.unlock();
            compact();
            lk.lock();
        }
    });
}

}  // namespace petrel::queue
