// queue/file_spool.h — the durable spool: one file per message under <data_dir>/spool/, made
// durable with group commit (docs/queue-format.md).
//
// Commit of one message: create spool/queue/<id> (O_EXCL), write header + message, fdatasync
// it, fsync spool/queue/. A pool of sync workers (kSyncThreads) takes commits as they arrive
// and does the first two steps for each, many at once, so the filesystem folds their
// fdatasyncs into shared journal commits; the directory entry rides in the same commit as the
// data (no rename). The worker that completes a batch then syncs the directory ONCE for every
// batch whose files are done at that moment (or leaves it to the worker already doing so,
// which takes it next), and only then calls their `done` — concurrent sessions share the
// directory fsync (issue 3, "group commit"), and the other workers keep writing while it runs.
// A message is acknowledged only after its data and directory entry are on stable storage
// (RFC 5321 §6.1: the 250 is a promise). A file in queue/ may be incomplete until its `done`:
// nothing reads it before (the index learns of it on done(Ok); recovery and the offline CLI
// need the spool lock), and recovery refuses torn files.
// Faults: ENOSPC/EDQUOT or the quota (max_spool_bytes) -> CommitStatus::NoSpace; any other
// error -> IoError; in both cases the partial file is removed from queue/.
// Start-up: leftovers in spool/tmp/ (earlier versions wrote there first) are removed. Reading
// the files back, with their per-recipient state, is the queue manager's job (queue_manager.h,
// `recover`), and so is counting their bytes for the quota: the spool does not scan queue/
// itself (each file is read once at start-up), so until recovery reports the total through
// `add_recovered_bytes`, `spool_bytes` counts only what this instance committed. The spool
// keeps no per-message memory: a backlog of a million messages costs it nothing.
// Thread-safety: every public method may be called from any thread. Only queue/ touches the
// spool directory (STYLE §2). Construction throws std::runtime_error (start-up only).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
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
};

class FileSpool final : public Spool {
public:
    explicit FileSpool(FileSpoolOptions options);
    ~FileSpool() override;  // finishes every pending commit, then stops the workers
    FileSpool(const FileSpool&) = delete;
    FileSpool& operator=(const FileSpool&) = delete;

    std::string new_id() override;
    void commit(std::string id, mail::Envelope envelope, std::string message,
                std::function<void(CommitOutcome)> done) override;
    // As `commit`, with the creation time written into the header (0: now).
    void commit_at(std::string id, mail::Envelope envelope, std::string message, int64_t created_ms,
                   std::function<void(CommitOutcome)> done);

    // Removal, for the queue manager: unlinks spool/queue/<id> (a missing file is not an error)
    // and takes its bytes off the quota. Not durable until the next fsync of spool/queue/:
    // `sync_queue_dir` now (a caller removing many messages pays one), or `sync_removals_soon`.
    bool unlink_message(const std::string& id, std::string* error = nullptr);
    bool sync_queue_dir();
    // Group sync for removals (a delivered message): returns at once; the removal becomes
    // durable with the next directory fsync, a commit batch's (which covers every unlink made
    // before it was issued) or, if none comes within kRemovalSyncDelay, the removal syncer's.
    // A crash before that brings the message back and it is delivered again (at-least-once,
    // RFC 5321 §6.1); nothing else depends on a removal being durable (docs/queue-format.md).
    void sync_removals_soon();
    bool removals_synced() const;  // every unlink so far covered by a directory fsync
    bool capture() const { return options_.capture; }

    struct Stats {
        uint64_t commits = 0;     // successful
        uint64_t failures = 0;
        uint64_t batches = 0;     // groups acknowledged together (a commit, or all that
                                  // pause_for_testing released) that stored at least one file
        uint64_t dir_fsyncs = 0;     // all of them: commit batches, removals, sync_queue_dir
        uint64_t removal_fsyncs = 0; // made by the removal syncer (no commit came in time)
        uint64_t removed_tmp = 0; // leftovers removed at start-up
    };
    Stats stats() const;
    std::vector<std::string> queued_ids() const;  // read from spool/queue/, sorted (= by time)
    // Total size of the files in spool/queue/, for the quota: what this instance committed,
    // plus what recovery found (below), minus what was unlinked.
    uint64_t spool_bytes() const;
    // Recovery (QueueManager::recover, before any commit) adds the bytes of the files it kept.
    void add_recovered_bytes(uint64_t bytes);
    std::string queue_dir() const { return queue_dir_; }
    std::string path_of(const std::string& id) const { return queue_dir_ + "/" + id; }

    // Test seam: while paused, commits wait; on resume they are written as one batch.
    void pause_for_testing(bool paused);

private:
    struct Job {
        std::string id;
        mail::Envelope envelope;
        std::string message;
        std::function<void(CommitOutcome)> done;
        int64_t created_ms = 0;
        CommitOutcome outcome;
        uint64_t bytes = 0;
        bool reserved = false;  // bytes counted in reserved_ (the quota)
        bool stored = false;    // data synced in queue/, directory not yet synced
    };
    // Commits acknowledged together; owned by work_ items until the last one is written, then
    // by ready_ until the leading worker has called every `done`.
    struct Batch {
        std::vector<Job> jobs;
        size_t unfinished = 0;  // jobs not yet through write_job (guarded by mu_)
    };
    struct WorkItem {
        Batch* batch = nullptr;
        size_t index = 0;
    };

    void dispatch_locked(std::vector<Job>& jobs);  // jobs -> batches -> work_ (mu_ held)
    void sync_worker();                            // one of kSyncThreads
    void write_job(Job& job);  // create in queue/, write, fdatasync
    void lead_finishing(std::unique_lock<std::mutex>& lk);  // dir fsyncs until ready_ is empty
    void finish_round(std::vector<std::unique_ptr<Batch>>& round);  // one dir fsync, then `done`s
    void removal_syncer();  // one thread: sync_removals_soon's deferred directory fsync
    bool fsync_queue_dir(); // fsync spool/queue/, marking the unlinks made before it as synced

    static constexpr size_t kMaxBatch = 512;
    static constexpr size_t kSyncThreads = 32;
    static constexpr auto kRemovalSyncDelay = std::chrono::milliseconds(100);

    FileSpoolOptions options_;
    std::string spool_dir_, tmp_dir_, queue_dir_;
    int lock_fd_ = -1, tmp_fd_ = -1, queue_fd_ = -1;

    mutable std::mutex mu_;
    std::condition_variable work_cv_;
    std::vector<Job> pending_;  // held back by pause_for_testing
    std::deque<WorkItem> work_;
    std::vector<std::unique_ptr<Batch>> ready_;  // every file written: waiting for the dir fsync
    bool finishing_ = false;  // a worker is leading: it takes ready_ before it stops leading
    bool stop_ = false;
    bool paused_ = false;
    Stats stats_;
    uint64_t bytes_ = 0;
    uint64_t reserved_ = 0;  // bytes of files being written (the quota counts them)
    std::vector<std::thread> workers_;
    // Removals: unlinks made (removal_gen_) and covered by a completed directory fsync
    // (removal_synced_), both under mu_; the syncer waits on removal_cv_.
    uint64_t removal_gen_ = 0, removal_synced_ = 0;
    bool removal_wanted_ = false;
    std::condition_variable removal_cv_;
    std::thread removal_thread_;
};

}  // namespace petrel::queue
