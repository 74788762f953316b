// queue/file_spool.h — the durable spool: an append-only segment log under
// <data_dir>/spool/segments/, made durable with group commit (docs/queue-format.md, version 3).
//
// Commit: the caller's thread builds the record (spool header with the envelope, session facts
// and checksums, then the message); one writer thread takes every record waiting at that
// moment, appends them all to the active segment with one writev and makes them durable with
// ONE fdatasync, then calls their `done` — concurrent sessions share the sync (issue 3, "group
// commit"), and the records arriving meanwhile form the next batch. No file is created per
// message: the per-file costs (inode allocation, directory entry, a sync of each) were the
// ceiling of the file-per-message design (docs/architecture.md, "Group commit").
// A message is acknowledged only after its record is on stable storage (RFC 5321 §6.1: the
// 250 is a promise); a new segment's directory entry is synced before its first record is.
// Faults: ENOSPC/EDQUOT or the quota (max_spool_bytes) -> CommitStatus::NoSpace; any other
// error -> IoError. A failed batch is cut off the segment again (ftruncate to where it began);
// if that fails too, the segment is closed and the next batch starts a new one, so a torn
// region is only ever followed by nothing (recovery stops reading a segment at its first bad
// record).
// Removal: a message leaves by a tombstone line appended to its segment's `.removed` file
// (made with the segment, with blocks reserved so a full disk does not stop removals); a
// segment whose messages are all removed is unlinked (both files). Tombstones are made durable
// in groups, like the commits (`sync_removals_soon`), or at once (`sync_removals`), and an
// action can be queued to run only after that (the queue manager unlinks the message's state
// journal then, so a crash never leaves a message without the journal it needs).
// Start-up: the spool counts nothing itself: the queue manager's recovery scans the segments
// and hands each one's live messages over (`adopt_segment`); until then `spool_bytes` counts
// only what this instance committed. The spool keeps per segment, not per message, memory.
// Thread-safety: every public method may be called from any thread. Only queue/ touches the
// spool directory (STYLE §2). Construction throws std::runtime_error (start-up only).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "queue/spool.h"
#include "queue/spool_entry.h"

namespace petrel::queue {

struct FileSpoolOptions {
    std::string data_dir;          // the spool lives in <data_dir>/spool/
    uint64_t max_spool_bytes = 0;  // 0: no quota
    bool capture = false;          // sandbox: recipients are stored as Captured, never delivered
    uint64_t segment_bytes = 64ull << 20;  // a segment is closed once it is this large
};

class FileSpool final : public Spool {
public:
    explicit FileSpool(FileSpoolOptions options);
    ~FileSpool() override;  // finishes every pending commit, syncs tombstones, stops its threads
    FileSpool(const FileSpool&) = delete;
    FileSpool& operator=(const FileSpool&) = delete;

    std::string new_id() override;
    void commit(std::string id, mail::Envelope envelope, std::string message,
                std::function<void(CommitOutcome)> done) override;
    // As `commit`, with the creation time written into the header (0: now) and, if given, the
    // recipients' states (the start-up migration of version 1/2 files keeps theirs).
    void commit_at(std::string id, mail::Envelope envelope, std::string message, int64_t created_ms,
                   std::function<void(CommitOutcome)> done,
                   const std::vector<RecipientState>* states = nullptr);

    std::string segments_dir() const { return segments_dir_; }
    std::string segment_path(uint32_t segment) const;
    std::string tombstone_path(uint32_t segment) const;
    // Version 1/2 spools kept one file per message here (spool/queue/); recovery migrates them.
    std::string legacy_queue_dir() const { return spool_dir_ + "/queue"; }
    // Segment numbers found in segments/ when the spool opened, ascending.
    std::vector<uint32_t> existing_segments() const { return existing_; }

    // Recovery (before any commit): segment `segment` holds `messages` live records of
    // `bytes` bytes in all, in a file of `file_size` bytes; with none it is unlinked now.
    void adopt_segment(uint32_t segment, uint64_t messages, uint64_t bytes, uint64_t file_size = 0);

    // Compaction (QueueManager::compact): closed segments whose live records take at most
    // `max_live_percent` % of the file and leave at least `min_dead_bytes` dead, oldest first.
    // A long-deferred message would otherwise keep a whole segment on disk.
    std::vector<uint32_t> sparse_segments(unsigned max_live_percent, uint64_t min_dead_bytes) const;

    // Removes the message `id` (record of `record_bytes` at `where`): appends its tombstone,
    // takes its bytes off the quota, and unlinks the segment if that was its last message.
    // Not durable until the next tombstone sync (`sync_removals_soon` or `sync_removals`);
    // `after_sync` (optional) runs once it is, on the thread that synced.
    bool remove_message(const SpoolLocation& where, const std::string& id, uint64_t record_bytes,
                        std::function<void()> after_sync, std::string* error = nullptr);
    // Every removal so far durable now (the operator's delete answers after this).
    bool sync_removals();
    // Group sync for removals (a delivered message): returns at once; a thread syncs every
    // tombstone written within kRemovalSyncDelay in one go. A crash before that brings the
    // message back and it is delivered again (at-least-once, RFC 5321 §6.1); nothing else
    // depends on a removal being durable (docs/queue-format.md).
    void sync_removals_soon();
    bool removals_synced() const;  // every removal so far durable
    bool capture() const { return options_.capture; }

    struct Stats {
        uint64_t commits = 0;   // successful
        uint64_t failures = 0;
        uint64_t batches = 0;   // appends that stored at least one record (one fdatasync each)
        uint64_t removal_syncs = 0;    // tombstone sync rounds that synced something
        uint64_t segments_created = 0;
        uint64_t segments_removed = 0;
        uint64_t removed_tmp = 0;  // leftovers in spool/tmp/ (version 1) removed at start-up
    };
    Stats stats() const;
    // Bytes of the live records (what the quota counts): committed by this instance, plus what
    // recovery adopted, minus what was removed.
    uint64_t spool_bytes() const;

    // Test seam: while paused, commits wait; on resume they are written as one batch (slices
    // of kMaxBatch).
    void pause_for_testing(bool paused);

    static constexpr size_t kMaxBatch = 512;
    static constexpr uint64_t kMaxBatchBytes = 32ull << 20;
    static constexpr auto kRemovalSyncDelay = std::chrono::milliseconds(100);

private:
    struct Job {
        std::string id;
        std::string header;
        std::string message;
        std::function<void(CommitOutcome)> done;
        CommitOutcome outcome;
    };
    struct Segment {
        uint64_t live = 0;      // records not removed
        uint64_t live_bytes = 0;
        uint64_t size = 0;      // the file's length (known for segments written or adopted)
        int tomb_fd = -1;       // <n>.removed, opened on the first removal
        bool tomb_dirty = false;
    };

    void writer();  // the one thread that appends and syncs
    void write_batch(std::vector<Job>& jobs);
    bool open_active(std::string& error, int& err);  // mu_ not held
    void close_active();
    void removal_syncer();
    bool sync_round();  // one tombstone sync round (sync_mu_ held by the caller)
    // mu_ held: segment `n` lost its last record and is not the active one: unlink its files.
    void drop_segment_locked(uint32_t n, Segment& s);
    uint64_t live_bytes_locked() const;  // the quota's count: live records of every segment

    FileSpoolOptions options_;
    std::string spool_dir_, segments_dir_;
    int lock_fd_ = -1, segments_fd_ = -1;
    std::vector<uint32_t> existing_;

    mutable std::mutex mu_;
    std::condition_variable work_cv_;  // the writer waits for jobs
    std::vector<Job> pending_;
    bool stop_ = false;
    bool paused_ = false;
    Stats stats_;
    std::map<uint32_t, Segment> segments_;
    uint32_t next_segment_ = 1;
    // The active segment: only the writer thread uses these two (active_no_ is also read
    // under mu_ to keep it from being dropped).
    int active_fd_ = -1;
    uint64_t active_size_ = 0;
    uint32_t active_no_ = 0;  // 0: none open
    std::thread writer_thread_;

    // Removals: tombstones written (removal_gen_) and made durable (removal_synced_), under mu_.
    uint64_t removal_gen_ = 0, removal_synced_ = 0;
    bool removal_wanted_ = false;
    bool dir_dirty_ = false;               // a segments/ entry was added or removed since a sync
    std::vector<int> closing_fds_;         // tombstone files of dropped segments: sync, close
    std::vector<std::function<void()>> after_sync_;
    std::condition_variable removal_cv_;
    std::mutex sync_mu_;  // one sync round at a time
    std::thread removal_thread_;
};

}  // namespace petrel::queue
