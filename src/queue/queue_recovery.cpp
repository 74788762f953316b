// queue/queue_recovery.cpp — QueueManager::recover (queue_manager.h): rebuilds the index from
// spool/queue/ and spool/state/ at start-up (docs/queue-format.md, "Recovery").
// Trust: every file is read back as possibly torn or corrupt (a crash, a bad disk, a hand
// edit): a message file that fails the strict header check is discarded (RFC 5321 §6.1: a file
// that is not complete was never acknowledged), a journal line that fails its CRC is skipped.
// Each discard is logged with the queue ID; one summary line follows.
// Speed: only the header of each message is read (one 4 KiB pread for most), on two threads;
// the index is built from the sorted ID list with end-hinted inserts.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>

#include "base/escape.h"
#include "base/ids.h"
#include "queue/codec.h"
#include "queue/queue_index.h"

namespace petrel::queue {

namespace {

struct Loaded {
    QueueKey key;
    IndexEntry entry;
};

struct WorkerResult {
    std::vector<Loaded> loaded;  // in ID order
    uint64_t bytes = 0, discarded = 0, finished = 0, damaged = 0;
};

}  // namespace

RecoveryStats QueueManager::recover() {
    Impl& m = *impl_;
    const auto t0 = std::chrono::steady_clock::now();
    RecoveryStats stats;
    stats.removed_tmp = m.spool.stats().removed_tmp;

    std::vector<std::string> ids;
    for (std::string& name : list_directory(m.spool.queue_dir())) {
        if (base::is_valid_queue_id(name)) ids.push_back(std::move(name));
        else spdlog::warn("queue: ignoring {}/{}: not a queue ID", m.spool.queue_dir(), base::escape_for_log(name));
    }
    std::sort(ids.begin(), ids.end());

    std::vector<std::string> journals;
    for (std::string& name : m.journal.list()) {
        if (base::is_valid_queue_id(name)) {
            journals.push_back(std::move(name));
        } else if (name.size() == 18 && name.ends_with(".tmp")) {
            m.journal.remove(name);  // an interrupted compaction; the journal itself is intact
        } else {
            spdlog::warn("queue: ignoring {}/{}: not a queue ID", m.journal.dir(), base::escape_for_log(name));
        }
    }
    std::sort(journals.begin(), journals.end());

    auto work = [&](size_t from, size_t to, WorkerResult& out) {
        out.loaded.reserve(to - from);
        for (size_t i = from; i < to; ++i) {
            const std::string& id = ids[i];
            ReadResult r = read_spool_entry(m.spool.path_of(id));
            if (r.ok && r.entry.id != id) {
                r.ok = false;
                r.error = "header names another ID";
            }
            if (!r.ok) {
                std::string ignored;
                m.unlink_files(id, true, ignored);
                spdlog::warn("qid={} discarded at recovery: {}", id, r.error);
                ++out.discarded;
                continue;
            }
            MessageProgress p = initial_progress(r.entry.states);
            const bool has_journal = std::binary_search(journals.begin(), journals.end(), id);
            if (has_journal) {
                std::string error;
                auto bytes = m.journal.read(id, &error);
                if (!bytes && !error.empty()) spdlog::error("qid={} {}", id, error);
                JournalParse jp = parse_journal(bytes.value_or(""), p.recipients.size());
                for (const JournalRecord& rec : jp.records) apply_journal_record(rec, p);
                if (jp.damaged()) {
                    // Later appends must not land behind a torn line: rewrite what is good.
                    ++out.damaged;
                    m.journal.rewrite(id, snapshot_records(p, wall_ms()), error);
                    spdlog::warn("qid={} state journal damaged ({} bad line(s){}): kept the state "
                                 "of the {} good record(s)",
                                 id, jp.bad_lines, jp.torn_tail ? ", torn last line" : "",
                                 jp.records.size());
                }
            }
            IndexEntry e;
            e.created_ms = r.entry.created_ms;
            e.size = r.entry.message_size;
            e.attempts = p.attempts;
            e.next_attempt_ms = p.next_attempt_ms;
            if (p.held) e.flags |= IndexEntry::kHeld;
            if (p.delay_warned) e.flags |= IndexEntry::kDelayWarned;
            if (has_journal) e.flags |= IndexEntry::kJournal;
            if (is_petrel_bounce(r.entry.envelope)) e.flags |= IndexEntry::kNullSender;
            e.rcpts.reserve(p.recipients.size());
            for (size_t k = 0; k < p.recipients.size(); ++k) {
                const uint32_t att = std::min<uint32_t>(p.recipients[k].attempts,
                                                        std::numeric_limits<uint16_t>::max());
                e.rcpts.push_back({m.intern(r.entry.envelope.recipients[k].mailbox.domain),
                                   static_cast<uint16_t>(att),
                                   static_cast<uint8_t>(p.recipients[k].state)});
            }
            if (e.finished()) {
                // The journal says everything is done: a removal the crash interrupted.
                std::string ignored;
                m.unlink_files(id, has_journal, ignored);
                spdlog::info("qid={} finished before the restart: removed", id);
                ++out.finished;
                continue;
            }
            out.bytes += r.entry.message_offset + r.entry.message_size;
            out.loaded.push_back({make_key(id), std::move(e)});
        }
    };

    // Two threads: the work is open/pread/close per file, which overlaps well even on a warm
    // cache; more would only contend with the daemon's other start-up work on a small machine.
    const size_t threads = ids.size() >= 512 ? 2 : 1;
    std::vector<WorkerResult> results(threads);
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) {
        const size_t from = ids.size() * t / threads, to = ids.size() * (t + 1) / threads;
        if (t + 1 == threads) work(from, to, results[t]);  // the last share on this thread
        else pool.emplace_back([&, from, to, t] { work(from, to, results[t]); });
    }
    for (auto& th : pool) th.join();

    {
        std::lock_guard lk(m.mu);
        for (WorkerResult& w : results) {  // ranges are consecutive: inserts go at the end
            for (Loaded& l : w.loaded) {
                auto it = m.index.emplace_hint(m.index.end(), l.key, std::move(l.entry));
                m.reschedule(it->first, it->second);
            }
            stats.bytes += w.bytes;
            stats.discarded += w.discarded;
            stats.finished += w.finished;
            stats.damaged_journals += w.damaged;
            std::vector<Loaded>().swap(w.loaded);
        }
        stats.messages = m.index.size();
    }
    // The quota's starting point: the spool does not scan queue/ itself (file_spool.h).
    m.spool.add_recovered_bytes(stats.bytes);

    // A journal whose message is gone: its removal was interrupted, or the message was torn.
    std::vector<std::string> orphans;
    std::set_difference(journals.begin(), journals.end(), ids.begin(), ids.end(),
                        std::back_inserter(orphans));
    for (const std::string& id : orphans) {
        m.journal.remove(id);
        spdlog::warn("qid={} state journal without a message: removed", id);
        ++stats.discarded;
    }

    stats.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
    spdlog::info("queue recovered: {} message(s), {} bytes, {} discarded, {} finished, {} damaged "
                 "journal(s), {} unfinished commit(s) dropped, in {} ms",
                 stats.messages, stats.bytes, stats.discarded, stats.finished,
                 stats.damaged_journals, stats.removed_tmp, stats.elapsed_ms);
    return stats;
}

}  // namespace petrel::queue
