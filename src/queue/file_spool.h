// queue/file_spool.h — the durable spool: one file per message under <data_dir>/spool/, made
// durable with group commit (docs/queue-format.md).
//
// Commit of one message: write header + message to spool/tmp/<id>, fdatasync it, rename it to
// spool/queue/<id>, fsync spool/queue/. A single writer thread takes every commit pending at
// that moment (up to 512) as one batch: it writes each file, syncs them all (in parallel when
// the batch is large), renames them all, then syncs the
// directory ONCE for the batch before calling each `done` — concurrent sessions share the
// directory fsync (issue 3, "group commit"). A message is acknowledged only after its rename is
// on stable storage (RFC 5321 §6.1: the 250 is a promise).
// Faults: ENOSPC/EDQUOT or the quota (max_spool_bytes) -> CommitStatus::NoSpace; any other
// error -> IoError; in both cases the temporary file is removed and nothing is left visible.
// Start-up: leftovers in spool/tmp/ (never acknowledged) are removed; the IDs in spool/queue/
// are listed (full recovery of per-recipient state comes with the queue manager).
// Thread-safety: every public method may be called from any thread. Only queue/ touches the
// spool directory (STYLE §2). Construction throws std::runtime_error (start-up only).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
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
    ~FileSpool() override;  // finishes every pending commit, then stops the writer
    FileSpool(const FileSpool&) = delete;
    FileSpool& operator=(const FileSpool&) = delete;

    std::string new_id() override;
    void commit(std::string id, mail::Envelope envelope, std::string message,
                std::function<void(CommitOutcome)> done) override;

    struct Stats {
        uint64_t commits = 0;     // successful
        uint64_t failures = 0;
        uint64_t batches = 0;     // writer wake-ups that wrote at least one file
        uint64_t dir_fsyncs = 0;
        uint64_t removed_tmp = 0; // leftovers removed at start-up
    };
    Stats stats() const;
    std::vector<std::string> queued_ids() const;  // sorted (IDs sort by time)
    uint64_t spool_bytes() const;                 // total size of the files in spool/queue/
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
        CommitOutcome outcome;
        uint64_t bytes = 0;
        int fd = -1;           // open temporary file, written but not yet synced
        bool written = false;  // synced
        bool renamed = false;
    };

    void run();
    void write_batch(std::vector<Job>& batch);
    void write_one(Job& job, uint64_t& reserved);
    void sync_written(std::vector<Job>& batch);

    static constexpr size_t kMaxBatch = 512;
    static constexpr size_t kSyncThreads = 16;

    FileSpoolOptions options_;
    std::string spool_dir_, tmp_dir_, queue_dir_;
    int lock_fd_ = -1, tmp_fd_ = -1, queue_fd_ = -1;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Job> pending_;
    bool stop_ = false;
    bool paused_ = false;
    Stats stats_;
    std::set<std::string> ids_;
    uint64_t bytes_ = 0;
    std::thread writer_;
};

}  // namespace petrel::queue
