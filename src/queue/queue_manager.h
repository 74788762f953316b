// queue/queue_manager.h — the queue: every acknowledged message, its per-recipient state, and
// the operator's controls (list, show, hold, release, delete, flush). The only owner of the
// spool's contents after commit (STYLE §2): delivery/ (issue 4) asks it for due work and reports
// results back through `record_attempt`; the control socket and `petrel queue` go through it.
//
// Lifecycle: construct over an open FileSpool (which holds the spool lock and must outlive
// this; the destructor waits for commits still in the spool's hands), call `recover()`
// once before serving (it rebuilds the index from the spool's segments and the state journals; anything
// torn is discarded and logged, RFC 5321 §6.1: it was never acknowledged), then use it as the
// `Spool` the SMTP server commits to: a commit becomes visible in the index only after the spool
// made it durable.
// Durability: every state change (recipient delivered/deferred/bounced, attempts, next retry,
// hold, release, delete) is on stable storage before the call returns Ok: one line appended
// and fdatasynced to the message's journal spool/state/<id> (docs/queue-format.md, "State
// journal"); a stored record is never rewritten. A message with nothing left pending is
// removed (a tombstone, then its journal; the tombstone sync is shared, see record_attempt). A crash between a delivery and
// its state write re-delivers that recipient once (at-least-once, RFC 5321 §6.1). `flush` is
// the exception: it only moves a retry time earlier, so it is kept in memory (a crash just
// restores the old time).
// Memory: the index holds no message bodies, no envelopes and no strings: per message a 14-byte
// key, times, size, counters, flags and 8 bytes per recipient (state, attempts, interned
// domain) and the record's place — 224 bytes of heap for a one-recipient message, measured
// (queue_index.h, docs/queue-format.md), so a backlog of
// 1,000,000 messages stays far under 1 GiB (issue 3). `list`, `info` and `entry` read sender,
// addresses and replies from disk for the messages they return.
// Thread-safety: every public method may be called from any thread. One mutex guards the
// index and is never held over disk I/O; changes to one message are serialized by a per-message
// stripe lock, so changes to different messages fsync in parallel.
// Trust: IDs passed in come from operators or the control socket: they are validated with
// base::is_valid_queue_id before they touch a path.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/file_spool.h"
#include "queue/spool.h"
#include "queue/spool_entry.h"

namespace petrel::queue {

// What `list` and `show` report for one recipient.
struct RecipientStatus {
    std::string address;       // local@domain as in the envelope ("" domain: bare local part)
    RecipientState state = RecipientState::Pending;
    uint32_t attempts = 0;     // delivery attempts for this recipient
    std::string last_error;    // the last reply or failure text, "" if none
};

// The state of a whole message, derived from its recipients and flags.
enum class MessageState {
    Queued,    // some recipient pending, never tried or due now
    Deferred,  // some recipient pending after a temporary failure; next_attempt_ms in future
    Held,      // on hold by the operator: never scheduled until released
    Captured,  // sandbox: every recipient captured
    Done,      // nothing left to do (delivered/bounced); about to be removed
};

struct MessageInfo {
    std::string id;
    int64_t created_ms = 0;
    uint64_t size = 0;            // message bytes
    std::string sender;           // "" for the null reverse-path
    std::vector<RecipientStatus> recipients;
    MessageState state = MessageState::Queued;
    bool is_bounce = false;       // a DSN petrel generated (sender <>, issue 4)
    uint32_t attempts = 0;
    int64_t next_attempt_ms = 0;  // 0: as soon as possible
    std::string last_error;
};

struct ListQuery {
    std::string after_id;          // page start: IDs strictly greater ("" = from the start)
    size_t limit = 100;            // at most this many (the control socket caps it at 10,000)
    std::string recipient_domain;  // "" = all; else only messages with a recipient there
    std::optional<MessageState> state;  // Deferred/Queued are judged at the time of the call
};

struct ListPage {
    std::vector<MessageInfo> messages;  // sorted by ID (= by time)
    std::string next_after;             // "" when this was the last page
    uint64_t total = 0;                 // messages in the queue (all, not only matches)
};

// One recipient's outcome of a delivery attempt (issue 4 fills these in).
struct RecipientResult {
    size_t index = 0;  // into the envelope's recipients
    RecipientState state = RecipientState::Pending;  // Delivered, Bounced, or Pending (deferred)
    std::string reply;                               // e.g. "450 4.2.0 mailbox busy"
};

// What delivery needs for one attempt at a message, from one read of its spool file.
struct DeliveryEntry {
    SpoolEntry entry;                    // recipient states: the current ones
    uint32_t attempts = 0;               // the message's attempts so far
    bool delay_warned = false;           // a delay report was sent already (journaled)
    std::optional<std::string> message;  // the message bytes, when the file is small (inline_max)
};

struct RecoveryStats {
    uint64_t messages = 0;    // back in the queue
    uint64_t discarded = 0;   // torn or corrupt files removed (logged one by one), including
                              // journals without a message
    uint64_t bytes = 0;       // spool file bytes of the recovered messages
    int64_t elapsed_ms = 0;
    uint64_t finished = 0;        // messages whose journal says nothing is left: removed now
    uint64_t damaged_journals = 0;  // journals with a torn or bad line: state kept up to the
                                    // good records, file rewritten compactly
    uint64_t removed_tmp = 0;     // leftovers in spool/tmp/ (removed when the spool opened)
    uint64_t migrated = 0;        // version 1/2 message files moved into the segment log
};

enum class ControlResult { Ok, NotFound, Invalid, IoError };

struct CompactionStats {
    uint64_t segments = 0;  // sparse segments found
    uint64_t moved = 0;     // messages whose record was copied to the active segment
    uint64_t moved_bytes = 0;
    uint64_t failed = 0;    // could not be read or committed again (they stay where they were)
};

class QueueManager final : public Spool {
public:
    explicit QueueManager(FileSpool& spool);
    ~QueueManager() override;
    QueueManager(const QueueManager&) = delete;
    QueueManager& operator=(const QueueManager&) = delete;

    // Once, before serving and before any commit. Reads every segment front to back and
    // spool/state/, on two threads; migrates a version 1/2 spool/queue/; logs one summary line.
    RecoveryStats recover();

    // Spool: delegates to the FileSpool; the message enters the index before `done(Ok)`.
    std::string new_id() override;
    void commit(std::string id, mail::Envelope envelope, std::string message,
                std::function<void(CommitOutcome)> done) override;

    ListPage list(const ListQuery& query) const;
    std::optional<MessageInfo> info(const std::string& id) const;
    // The spool entry (full envelope) and the message bytes, read from disk.
    std::optional<SpoolEntry> entry(const std::string& id) const;
    std::optional<std::string> message(const std::string& id) const;
    // For delivery: the entry with its current states and attempt count, read with one open
    // and one pread; a record of at most `inline_max` bytes comes with its message bytes.
    std::optional<DeliveryEntry> delivery_entry(const std::string& id, uint64_t inline_max) const;

    ControlResult hold(const std::string& id);
    ControlResult release(const std::string& id);
    ControlResult remove(const std::string& id);
    // Every message with a recipient at `domain` (any state), like `remove` for each; one
    // directory fsync for all. Returns how many were removed.
    uint64_t remove_by_recipient_domain(const std::string& domain);
    // Makes `id` (or, with "", every non-held message with a pending recipient) due now;
    // returns how many. Held and captured messages are not touched. Not journaled (above).
    uint64_t flush(const std::string& id);

    // For delivery (issue 4): IDs due at `now_ms`, at most `limit`, ordered by next attempt
    // (most overdue first; never-tried messages have 0), ties by ID (= oldest first). Held,
    // captured and finished messages are never due. A message stays due until
    // `record_attempt` moves its retry time: the caller tracks what it has in flight.
    std::vector<std::string> due(int64_t now_ms, size_t limit) const;
    // Records the outcome of one attempt durably: the message's attempts + 1, each listed
    // recipient's attempts + 1 and new state (a recipient no longer Pending is left as it is;
    // an index out of range or a Captured state is Invalid). When no recipient is left pending
    // the message and its journal are removed from the spool (DSNs must already be committed
    // as messages of their own); otherwise `next_attempt_ms` becomes its retry time.
    // `delay_warned`: a delay report was sent in this attempt; journaled with it (one line
    // more, same fdatasync) so a restart does not send a second one.
    // IoError (the journal or tombstone could not be written): nothing changes but the
    // message's next attempt, moved at least a minute ahead in memory so delivery does not
    // loop on it (Impl::back_off); the attempt's deliveries may be repeated later
    // (at-least-once).
    // Durability: a kept message's record is fdatasynced before the call returns Ok. A removal
    // returns after its tombstone is written: the sync is shared (FileSpool::sync_removals_soon);
    // a crash in that window (≤ about 0.1 s) delivers the message again, which RFC 5321 §6.1's
    // at-least-once allows and which nothing else depends on.
    ControlResult record_attempt(const std::string& id, const std::vector<RecipientResult>& results,
                                 int64_t next_attempt_ms, bool delay_warned = false);
    // Called whenever a message becomes due earlier than before (a commit, release, flush), on
    // the thread that made the change (the spool writer thread for commits), so a scheduler
    // can wake up; optional. No lock of the QueueManager is held while it runs.
    void on_due(std::function<void()> callback);

    uint64_t size() const;  // messages in the queue

    // Compaction (docs/queue-format.md, "Compaction"): the messages still in sparse segments
    // (FileSpool::sparse_segments) are written again, byte for byte, to the active segment,
    // and their old records get tombstones, so the old segments can be unlinked: a message
    // deferred for days does not keep a 64 MiB segment of dead records on disk. Messages due
    // within a minute are left where they are (delivery may be reading them). At most
    // `max_messages` per call, in groups that share one fdatasync. Each group holds the
    // stripe locks of its messages, so it is safe beside delivery and the controls. A crash
    // between a copy and its original's tombstone leaves two copies; recovery keeps one.
    CompactionStats compact(unsigned max_live_percent = 25, uint64_t min_dead_bytes = 16ull << 20,
                            size_t max_messages = 20000);
    // Calls compact() every `interval` on a thread of its own until the manager is destroyed.
    void start_compaction(std::chrono::milliseconds interval);

    struct Impl;  // queue_index.h (internal to queue/)

private:
    ControlResult set_held(const std::string& id, bool held);
    ControlResult remove_one(const std::string& id, const char* why);
    // Recovery step 7 (docs/queue-format.md); appends the IDs it removed (finished, or torn:
    // their journals are not orphans) to `finished`.
    uint64_t migrate_legacy(const std::vector<std::string>& journals, RecoveryStats& stats,
                            std::vector<std::string>& finished);

    std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::queue
