// queue/queue_recovery.cpp — QueueManager::recover (queue_manager.h): rebuilds the index from
// the spool's segments and spool/state/ at start-up (docs/queue-format.md, "Recovery").
// Trust: every byte is read back as possibly torn or corrupt (a crash, a bad disk, a hand
// edit): a segment is read up to its first record that fails the header or message checksum
// and cut there (RFC 5321 §6.1: such a record was never acknowledged); a journal line that
// fails its CRC is skipped. Each discard is logged; one summary line follows.
// Speed: each segment is read front to back in large reads (segment_scan.h), two threads over
// the segments; the index is built from the ID-sorted result with end-hinted inserts.
// Version 1/2 spools (one file per message in spool/queue/) are migrated into the log here.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <tuple>

#include <fcntl.h>
#include <unistd.h>

#include "base/escape.h"
#include "base/ids.h"
#include "queue/codec.h"
#include "queue/queue_index.h"
#include "queue/segment_scan.h"

namespace petrel::queue {

namespace {

struct Loaded {
    QueueKey key;
    IndexEntry entry;
};

struct SegmentResult {
    uint32_t segment = 0;
    std::vector<Loaded> loaded;    // live records, in file order
    std::vector<Loaded> finished;  // every recipient done by the journal: to remove
    uint64_t bytes = 0, tombstoned = 0, damaged = 0;
    SegmentScan scan;
};

// The index entry of a stored message: its header states with its journal (if any) applied.
// A damaged journal is rewritten with the good records (later appends must not land behind
// a torn line).
IndexEntry build_entry(QueueManager::Impl& m, const SpoolEntry& s, bool has_journal,
                       bool& damaged) {
    MessageProgress p = initial_progress(s.states);
    if (has_journal) {
        std::string error;
        auto bytes = m.journal.read(s.id, &error);
        if (!bytes && !error.empty()) spdlog::error("qid={} {}", s.id, error);
        JournalParse jp = parse_journal(bytes.value_or(""), p.recipients.size());
        for (const JournalRecord& rec : jp.records) apply_journal_record(rec, p);
        if (jp.damaged()) {
            damaged = true;
            m.journal.rewrite(s.id, snapshot_records(p, wall_ms()), error);
            spdlog::warn("qid={} state journal damaged ({} bad line(s){}): kept the state of the "
                         "{} good record(s)",
                         s.id, jp.bad_lines, jp.torn_tail ? ", torn last line" : "", jp.records.size());
        }
    }
    IndexEntry e;
    e.created_ms = s.created_ms;
    e.size = s.message_size;
    e.attempts = p.attempts;
    e.next_attempt_ms = p.next_attempt_ms;
    if (p.held) e.flags |= IndexEntry::kHeld;
    if (p.delay_warned) e.flags |= IndexEntry::kDelayWarned;
    if (has_journal) e.flags |= IndexEntry::kJournal;
    if (is_petrel_bounce(s.envelope)) e.flags |= IndexEntry::kNullSender;
    e.rcpts.reserve(p.recipients.size());
    for (size_t k = 0; k < p.recipients.size(); ++k) {
        const uint32_t att = std::min<uint32_t>(p.recipients[k].attempts,
                                                std::numeric_limits<uint16_t>::max());
        e.rcpts.push_back({m.intern(s.envelope.recipients[k].mailbox.domain),
                           static_cast<uint16_t>(att), static_cast<uint8_t>(p.recipients[k].state)});
    }
    return e;
}

}  // namespace

RecoveryStats QueueManager::recover() {
    Impl& m = *impl_;
    const auto t0 = std::chrono::steady_clock::now();
    RecoveryStats stats;
    stats.removed_tmp = m.spool.stats().removed_tmp;

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
    auto journaled = [&](const std::string& id) {
        return std::binary_search(journals.begin(), journals.end(), id);
    };

    // 1. The segments, oldest first, on two threads (segment i on thread i % 2).
    const std::vector<uint32_t> segments = m.spool.existing_segments();
    std::vector<SegmentResult> results(segments.size());
    auto work = [&](size_t first, size_t step) {
        for (size_t i = first; i < segments.size(); i += step) {
            SegmentResult& out = results[i];
            out.segment = segments[i];
            const std::vector<std::string> tombs =
                read_tombstones(m.spool.tombstone_path(out.segment), true);
            out.scan = scan_segment(m.spool.segment_path(out.segment), [&](ScannedRecord&& rec) {
                if (std::binary_search(tombs.begin(), tombs.end(), rec.entry.id)) {
                    ++out.tombstoned;
                    return;
                }
                bool damaged = false;
                IndexEntry e = build_entry(m, rec.entry, journaled(rec.entry.id), damaged);
                if (damaged) ++out.damaged;
                e.where = {out.segment, rec.header_bytes, rec.offset};
                Loaded l{make_key(rec.entry.id), std::move(e)};
                (l.entry.finished() ? out.finished : out.loaded).push_back(std::move(l));
            });
        }
    };
    const size_t threads = segments.size() >= 2 ? 2 : 1;
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back([&, t] { work(t, threads); });
    work(0, threads);
    for (auto& th : pool) th.join();

    // 2. Into the index, in ID order. The same ID twice (a compaction a crash interrupted, or
    // a copied file): the first copy (oldest segment) counts. A later copy in another segment
    // gets a tombstone there; one in the same segment is skipped — a tombstone names an ID and
    // would remove the first copy too — and does not keep its segment alive.
    std::vector<Loaded> all;
    std::vector<Loaded> remove_now;  // finished by their journals
    std::vector<Loaded> duplicates;  // second copies in another segment
    {
        size_t total = 0;
        for (const SegmentResult& r : results) total += r.loaded.size();
        all.reserve(total);
    }
    for (SegmentResult& r : results) {
        const std::string path = m.spool.segment_path(r.segment);
        if (!r.scan.opened || r.scan.read_error) {
            // Not a torn tail: the file could not be read (permissions, an I/O error). It is
            // neither cut nor ever unlinked in this run (adopted with one extra, pinning
            // count below), so the messages not read are there for the next start.
            spdlog::error("queue: cannot read {} (at offset {}): {}; its other messages stay "
                          "on disk until a restart reads them",
                          path, r.scan.good_end, r.scan.stop_reason);
        } else if (!r.scan.stop_reason.empty()) {
            // The tail of an append that was never acknowledged (or damage): cut it off.
            spdlog::warn("queue: {}: {} byte(s) at offset {} discarded at recovery ({})", path,
                         r.scan.file_size - r.scan.good_end, r.scan.good_end, r.scan.stop_reason);
            if (::truncate(path.c_str(), static_cast<off_t>(r.scan.good_end)) != 0) {
                spdlog::error("queue: cannot cut {} at {}", path, r.scan.good_end);
            }
            ++stats.discarded;
        }
        stats.damaged_journals += r.damaged;
        for (Loaded& l : r.loaded) all.push_back(std::move(l));
        std::vector<Loaded>().swap(r.loaded);  // peak memory: one copy of the entries, not two
        for (Loaded& l : r.finished) remove_now.push_back(std::move(l));
    }
    // By ID, copies of one ID oldest first (in place: no merge buffer of a million entries).
    std::sort(all.begin(), all.end(), [](const Loaded& a, const Loaded& b) {
        return std::tie(a.key, a.entry.where.segment, a.entry.where.offset) <
               std::tie(b.key, b.entry.where.segment, b.entry.where.offset);
    });
    std::vector<uint64_t> live(segments.size(), 0), live_bytes(segments.size(), 0);
    auto seg_index = [&](uint32_t seg) {
        return static_cast<size_t>(std::lower_bound(segments.begin(), segments.end(), seg) - segments.begin());
    };
    {
        std::lock_guard lk(m.mu);
        uint32_t kept_segment = 0;  // where the copy of the current ID that counts lives
        for (size_t i = 0; i < all.size(); ++i) {
            Loaded& l = all[i];
            if (i > 0 && all[i - 1].key == l.key) {
                if (l.entry.where.segment != kept_segment) {
                    // A compaction's copy whose original's tombstone a crash undid (or the
                    // reverse): the same bytes twice. The later copy gets a tombstone in its
                    // own segment's file, which touches no other copy; the journal stays.
                    spdlog::info("qid={} stored twice (compaction interrupted): the copy in {} "
                                 "is removed", key_string(l.key), m.spool.segment_path(l.entry.where.segment));
                    l.entry.flags &= static_cast<uint8_t>(~IndexEntry::kJournal);
                    duplicates.push_back(std::move(l));
                } else {
                    spdlog::warn("qid={} stored twice in {}: the copy at offset {} is ignored",
                                 key_string(l.key), m.spool.segment_path(l.entry.where.segment),
                                 l.entry.where.offset);
                }
                continue;
            }
            kept_segment = l.entry.where.segment;
            const size_t si = seg_index(l.entry.where.segment);
            ++live[si];
            live_bytes[si] += l.entry.record_bytes();
            auto it = m.index.emplace_hint(m.index.end(), l.key, std::move(l.entry));
            m.reschedule(it->first, it->second);
            stats.bytes += it->second.record_bytes();
        }
    }
    std::vector<Loaded>().swap(all);
    for (const auto* list : {&remove_now, &duplicates}) {
        for (const Loaded& l : *list) {
            // Counted live too until their tombstones below.
            const size_t si = seg_index(l.entry.where.segment);
            ++live[si];
            live_bytes[si] += l.entry.record_bytes();
        }
    }
    // The spool learns each segment's live records (and unlinks the empty ones); the quota
    // starts from their bytes.
    for (size_t i = 0; i < segments.size(); ++i) {
        const bool pinned = !results[i].scan.opened || results[i].scan.read_error;
        m.spool.adopt_segment(segments[i], live[i] + (pinned ? 1 : 0), live_bytes[i],
                              results[i].scan.good_end);
    }
    for (const auto* list : {&remove_now, &duplicates}) {
        const bool finished = list == &remove_now;
        for (const Loaded& l : *list) {
            const std::string id = key_string(l.key);
            std::string error;
            if (!m.remove_files(id, l.entry, error)) spdlog::error("qid={} cannot remove: {}", id, error);
            else if (finished) ++stats.finished;
            if (finished) spdlog::info("qid={} finished before the restart: removed", id);
        }
    }

    // 3. Version 1/2 spools: each message file becomes a record (its journal stays valid: the
    // recipients keep their order), then the file goes.
    std::vector<std::string> gone;  // finished messages: their journals go with them
    for (const Loaded& l : remove_now) gone.push_back(key_string(l.key));
    stats.migrated = migrate_legacy(journals, stats, gone);
    {
        std::lock_guard lk(m.mu);
        stats.messages = m.index.size();
    }
    // The tombstones above durable; only then do the finished messages' journals go (the
    // sync round's actions): never a message without its journal.
    m.spool.sync_removals();

    // A journal whose message is gone: its removal was interrupted, or the message was torn.
    std::sort(gone.begin(), gone.end());
    std::vector<std::string> orphans;
    {
        std::lock_guard lk(m.mu);
        for (const std::string& id : journals) {
            if (!m.index.count(make_key(id)) && !std::binary_search(gone.begin(), gone.end(), id)) {
                orphans.push_back(id);
            }
        }
    }
    for (const std::string& id : orphans) {
        m.journal.remove(id);
        spdlog::warn("qid={} state journal without a message: removed", id);
        ++stats.discarded;
    }

    stats.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
    spdlog::info("queue recovered: {} message(s), {} bytes in {} segment(s), {} discarded, {} "
                 "finished, {} damaged journal(s), {} migrated, {} unfinished commit(s) dropped, "
                 "in {} ms",
                 stats.messages, stats.bytes, segments.size(), stats.discarded, stats.finished,
                 stats.damaged_journals, stats.migrated, stats.removed_tmp, stats.elapsed_ms);
    return stats;
}

uint64_t QueueManager::migrate_legacy(const std::vector<std::string>& journals, RecoveryStats& stats,
                                      std::vector<std::string>& finished) {
    Impl& m = *impl_;
    const std::string dir = m.spool.legacy_queue_dir();
    if (::access(dir.c_str(), F_OK) != 0) return 0;
    std::vector<std::string> ids;
    for (std::string& name : list_directory(dir)) {
        if (base::is_valid_queue_id(name)) ids.push_back(std::move(name));
        else spdlog::warn("queue: ignoring {}/{}: not a queue ID", dir, base::escape_for_log(name));
    }
    std::sort(ids.begin(), ids.end());
    uint64_t migrated = 0;
    for (const std::string& id : ids) {
        const std::string path = dir + "/" + id;
        bool known = false;
        {
            std::lock_guard lk(m.mu);
            known = m.index.count(make_key(id)) != 0;
        }
        if (known) {  // migrated before a crash that kept the file: the record counts
            ::unlink(path.c_str());
            continue;
        }
        ReadResult r = read_spool_entry(path, std::numeric_limits<uint64_t>::max());  // whole
        if (!r.ok || r.entry.id != id || !r.message) {
            spdlog::warn("qid={} discarded at migration: {}", id, r.ok ? "header names another ID" : r.error);
            ::unlink(path.c_str());
            m.journal.remove(id);     // with its journal, counted once (not as an orphan too)
            finished.push_back(id);
            ++stats.discarded;
            continue;
        }
        bool damaged = false;
        const bool has_journal = std::binary_search(journals.begin(), journals.end(), id);
        IndexEntry e = build_entry(m, r.entry, has_journal, damaged);
        if (damaged) ++stats.damaged_journals;
        // One at a time: a migration happens once, and a legacy file is unlinked only after its
        // record is durable.
        std::promise<CommitOutcome> committed;
        auto future = committed.get_future();
        m.spool.commit_at(id, r.entry.envelope, std::move(*r.message), r.entry.created_ms,
                          [&committed](CommitOutcome o) { committed.set_value(std::move(o)); },
                          &r.entry.states);
        const CommitOutcome outcome = future.get();
        if (outcome.status != CommitStatus::Ok) {
            spdlog::error("qid={} not migrated, kept in {}: {}", id, dir, outcome.detail);
            continue;
        }
        e.where = outcome.location;
        ::unlink(path.c_str());  // its record is durable
        ++migrated;
        if (e.finished()) {  // a version 1 file can say so: it leaves at once
            std::string error;
            if (m.remove_files(id, e, error)) ++stats.finished;
            else spdlog::error("qid={} cannot remove: {}", id, error);
            finished.push_back(id);
            continue;
        }
        std::lock_guard lk(m.mu);
        auto [it, added] = m.index.emplace(make_key(id), e);
        m.reschedule(it->first, it->second);
        stats.bytes += e.record_bytes();
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    if (::rmdir(dir.c_str()) == 0) spdlog::info("queue: {} message(s) migrated from {} (version 2)", migrated, dir);
    return migrated;
}

}  // namespace petrel::queue
