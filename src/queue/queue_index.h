// queue/queue_index.h — internal to queue/: the queue manager's in-memory index, shared by
// queue_manager.cpp (commit, controls, delivery results) and queue_recovery.cpp (start-up).
//
// Memory is the design constraint (issue 3: a 1,000,000-message backlog far under 1 GiB): an
// entry holds no strings at all. The ID is a fixed 14-byte key, recipients are 8 bytes each
// (an interned domain number, attempts, state), and sender, addresses and replies stay on disk,
// read back only for the page `list` or `info` returns. Measured: see docs/queue-format.md.
// Trust: only petrel's own validated values reach it (IDs are checked before they get here).
#pragma once

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "queue/file_spool.h"
#include "queue/queue_manager.h"
#include "queue/state_journal.h"

namespace petrel::queue {

using QueueKey = std::array<char, 14>;

// `id` of any length: shorter is padded with NULs, longer cut (callers rely on this ordering
// only for paging, where both give the right "strictly after" position).
inline QueueKey make_key(const std::string& id) {
    QueueKey k{};
    std::memcpy(k.data(), id.data(), std::min(id.size(), k.size()));
    return k;
}
inline std::string key_string(const QueueKey& k) { return std::string(k.data(), k.size()); }

struct IndexRecipient {
    uint32_t domain = 0;    // into Impl::domains
    uint16_t attempts = 0;  // saturates
    uint8_t state = 0;      // RecipientState
    RecipientState st() const { return static_cast<RecipientState>(state); }
};
static_assert(sizeof(IndexRecipient) == 8);

struct IndexEntry {
    // kNullSender: a bounce petrel generated (queue::is_petrel_bounce), not any "<>" sender.
    // kJournal: spool/state/<id> may exist (so a removal unlinks it; without the flag the
    // unlink, which would fail with ENOENT, is skipped). kDelayWarned: a delay report was sent.
    static constexpr uint8_t kHeld = 1, kNullSender = 2, kJournal = 4, kDelayWarned = 8;
    int64_t created_ms = 0;
    int64_t next_attempt_ms = 0;
    uint64_t size = 0;  // message bytes
    SpoolLocation where;  // its record: header_bytes + size bytes at where.offset
    uint32_t attempts = 0;
    uint8_t flags = 0;
    std::vector<IndexRecipient> rcpts;

    bool held() const { return flags & kHeld; }
    uint64_t record_bytes() const { return where.header_bytes + size; }
    bool has(RecipientState s) const {
        for (const IndexRecipient& r : rcpts) {
            if (r.st() == s) return true;
        }
        return false;
    }
    bool all_captured() const { return !rcpts.empty() && !has(RecipientState::Pending) &&
                                       !has(RecipientState::Delivered) && !has(RecipientState::Bounced); }
    // Nothing left to do: no recipient pending, none captured (a sandbox message stays).
    bool finished() const { return !has(RecipientState::Pending) && !has(RecipientState::Captured); }
    bool schedulable() const { return !held() && has(RecipientState::Pending); }
};

MessageState message_state(const IndexEntry& e, int64_t now_ms);
int64_t wall_ms();

struct QueueManager::Impl {
    explicit Impl(FileSpool& s);

    FileSpool& spool;
    StateJournal journal;

    mutable std::mutex mu;  // index and schedule
    std::map<QueueKey, IndexEntry> index;
    std::set<std::pair<int64_t, QueueKey>> schedule;  // schedulable entries by (next attempt, ID)

    mutable std::mutex dom_mu;  // may be taken under `mu`, never the other way round
    std::vector<std::string> domains;
    std::unordered_map<std::string, uint32_t> domain_ids;

    // One change at a time per message (journal appends, unlinks), without holding `mu` over
    // disk work: a message's changes take its stripe.
    std::array<std::mutex, 64> stripes;

    std::mutex cb_mu;
    std::function<void()> on_due;

    std::mutex compact_mu;  // the compaction thread (start_compaction)
    std::condition_variable compact_cv;
    bool compact_stop = false;
    std::thread compactor;

    std::mutex flight_mu;  // commits handed to the spool and not yet completed
    std::condition_variable flight_cv;
    size_t in_flight = 0;

    uint32_t intern(const std::string& domain);  // case-insensitive (kept in lower case)
    std::optional<uint32_t> find_domain(const std::string& domain) const;
    std::mutex& stripe(const QueueKey& k);
    // With `mu` held:
    void insert(const QueueKey& k, IndexEntry e);
    void unschedule(const QueueKey& k, const IndexEntry& e);
    void reschedule(const QueueKey& k, const IndexEntry& e);
    void notify_due();
    void erase(const QueueKey& k);  // takes `mu`
    // An attempt that could not be recorded (a full disk): the message's states stay as the
    // disk has them, but its next attempt moves to at least kFailedRecordBackoffMs from now,
    // in memory only (like `flush`, losing it in a crash only restores the old time), so
    // delivery does not try it again at once, in a loop. Takes `mu`.
    void back_off(const QueueKey& k, int64_t next_attempt_ms);
    static constexpr int64_t kFailedRecordBackoffMs = 60'000;
    // The message's record as stored (header and, up to `inline_max` bytes, the message).
    ReadResult read(const IndexEntry& e, uint64_t inline_max = 0) const;
    // Removes the message from the spool (a tombstone) and, once that is durable, its journal
    // (if `e` has one): a crash never leaves the message without its journal. Durable only
    // after the next tombstone sync (spool.sync_removals() or spool.sync_removals_soon()).
    bool remove_files(const std::string& id, const IndexEntry& e, std::string& error);
};

}  // namespace petrel::queue
