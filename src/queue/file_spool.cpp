// queue/file_spool.cpp — see file_spool.h and docs/queue-format.md.
#include "queue/file_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "base/ids.h"

namespace petrel::queue {

namespace {

std::string errno_text(const char* what, const std::string& path, int err) {
    return std::string(what) + " " + path + ": " + std::strerror(err);
}

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
        throw std::runtime_error(errno_text("cannot create", path, errno));
    }
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw std::runtime_error(path + " is not a directory");
    }
}

int open_dir(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(errno_text("cannot open", path, errno));
    return fd;
}

CommitStatus classify(int err) {
    return err == ENOSPC || err == EDQUOT ? CommitStatus::NoSpace : CommitStatus::IoError;
}

// Names in a directory (regular entries, not "." and ".."). `dir_fd` is not consumed.
std::vector<std::string> list_names(int dir_fd) {
    std::vector<std::string> names;
    int fd = ::dup(dir_fd);
    if (fd < 0) return names;
    DIR* d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        return names;
    }
    ::rewinddir(d);
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    return names;
}

bool write_all(int fd, const std::string& a, const std::string& b, int& err) {
    size_t off = 0;
    const size_t total = a.size() + b.size();
    while (off < total) {
        iovec iov[2];
        int n = 0;
        if (off < a.size()) {
            iov[n++] = {const_cast<char*>(a.data()) + off, a.size() - off};
            iov[n++] = {const_cast<char*>(b.data()), b.size()};
        } else {
            iov[n++] = {const_cast<char*>(b.data()) + (off - a.size()), total - off};
        }
        ssize_t w = ::writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            err = errno;
            return false;
        }
        off += static_cast<size_t>(w);
    }
    return true;
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

FileSpool::FileSpool(FileSpoolOptions options) : options_(std::move(options)) {
    spool_dir_ = options_.data_dir + "/spool";
    tmp_dir_ = spool_dir_ + "/tmp";
    queue_dir_ = spool_dir_ + "/queue";
    make_dir(options_.data_dir);
    make_dir(spool_dir_);
    make_dir(tmp_dir_);
    make_dir(queue_dir_);
    // One writer per spool: a second daemon on the same data_dir would break the promises here.
    std::string lock_path = spool_dir_ + "/lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd_ < 0) throw std::runtime_error(errno_text("cannot open", lock_path, errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock_fd_);
        throw std::runtime_error("the spool " + spool_dir_ + " is in use by another petrel");
    }
    tmp_fd_ = open_dir(tmp_dir_);
    queue_fd_ = open_dir(queue_dir_);
    // tmp/ was used by earlier versions (write there, then rename): its leftovers were never
    // acknowledged, so drop them.
    for (const std::string& name : list_names(tmp_fd_)) {
        if (::unlinkat(tmp_fd_, name.c_str(), 0) == 0) ++stats_.removed_tmp;
    }
    // The bytes already in queue/ are not counted here: the queue manager's recovery reads
    // every file's header anyway and hands the total over (add_recovered_bytes), so each file
    // is touched once at start-up (a stat per file cost ~9 s of a 1M-message restart).
    for (size_t i = 0; i < kSyncThreads; ++i) workers_.emplace_back([this] { sync_worker(); });
    removal_thread_ = std::thread([this] { removal_syncer(); });
}

FileSpool::~FileSpool() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
        dispatch_locked(pending_);  // even while paused: every pending commit gets written
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();  // the last leader has acknowledged everything
    removal_cv_.notify_all();
    removal_thread_.join();             // it syncs removals still unsynced before it ends
    for (int fd : {tmp_fd_, queue_fd_, lock_fd_}) {
        if (fd >= 0) ::close(fd);
    }
}

std::string FileSpool::new_id() { return base::new_queue_id(); }

void FileSpool::commit(std::string id, mail::Envelope envelope, std::string message,
                       std::function<void(CommitOutcome)> done) {
    commit_at(std::move(id), std::move(envelope), std::move(message), 0, std::move(done));
}

void FileSpool::commit_at(std::string id, mail::Envelope envelope, std::string message,
                          int64_t created_ms, std::function<void(CommitOutcome)> done) {
    {
        std::lock_guard lk(mu_);
        Job job;
        job.created_ms = created_ms;
        job.id = std::move(id);
        job.envelope = std::move(envelope);
        job.message = std::move(message);
        job.done = std::move(done);
        pending_.push_back(std::move(job));
        if (paused_) return;
        dispatch_locked(pending_);
    }
    work_cv_.notify_one();
}

void FileSpool::pause_for_testing(bool paused) {
    {
        std::lock_guard lk(mu_);
        paused_ = paused;
        if (!paused) dispatch_locked(pending_);
    }
    work_cv_.notify_all();
}

FileSpool::Stats FileSpool::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

std::vector<std::string> FileSpool::queued_ids() const {
    std::vector<std::string> ids;
    for (std::string& name : list_names(queue_fd_)) {
        struct stat st{};
        if (base::is_valid_queue_id(name) &&
            ::fstatat(queue_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
            ids.push_back(std::move(name));
        }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

bool FileSpool::unlink_message(const std::string& id, std::string* error) {
    if (!base::is_valid_queue_id(id)) {
        if (error) *error = "invalid queue id";
        return false;
    }
    struct stat st{};
    bool known = ::fstatat(queue_fd_, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    if (::unlinkat(queue_fd_, id.c_str(), 0) != 0 && errno != ENOENT) {
        if (error) *error = errno_text("cannot remove", path_of(id), errno);
        return false;
    }
    std::lock_guard lk(mu_);
    ++removal_gen_;
    if (known) bytes_ -= std::min<uint64_t>(bytes_, static_cast<uint64_t>(st.st_size));
    return true;
}

bool FileSpool::sync_queue_dir() { return fsync_queue_dir(); }

bool FileSpool::fsync_queue_dir() {
    uint64_t gen = 0;
    {
        std::lock_guard lk(mu_);
        gen = removal_gen_;  // every unlink counted so far was made before the fsync is issued
    }
    if (::fsync(queue_fd_) != 0) return false;
    std::lock_guard lk(mu_);
    removal_synced_ = std::max(removal_synced_, gen);
    ++stats_.dir_fsyncs;
    return true;
}

void FileSpool::sync_removals_soon() {
    {
        std::lock_guard lk(mu_);
        if (removal_synced_ == removal_gen_ || removal_wanted_) return;
        removal_wanted_ = true;
    }
    removal_cv_.notify_one();
}

bool FileSpool::removals_synced() const {
    std::lock_guard lk(mu_);
    return removal_synced_ == removal_gen_;
}

void FileSpool::removal_syncer() {
    std::unique_lock lk(mu_);
    while (true) {
        removal_cv_.wait(lk, [&] { return stop_ || removal_wanted_; });
        // Under load a commit batch's directory fsync (finish_round) comes within a few ms and
        // covers these unlinks too: wait a little for one before paying an fsync of our own.
        removal_cv_.wait_for(lk, kRemovalSyncDelay,
                             [&] { return stop_ || removal_synced_ == removal_gen_; });
        removal_wanted_ = false;
        if (removal_synced_ != removal_gen_) {
            lk.unlock();
            const bool ok = fsync_queue_dir();
            lk.lock();
            if (ok) ++stats_.removal_fsyncs;
            else removal_wanted_ = !stop_;  // retried after the delay; recovery finishes it anyway
        }
        if (stop_ && (removal_synced_ == removal_gen_ || !removal_wanted_)) return;
    }
}

void FileSpool::add_recovered_bytes(uint64_t bytes) {
    std::lock_guard lk(mu_);
    bytes_ += bytes;
}

uint64_t FileSpool::spool_bytes() const {
    std::lock_guard lk(mu_);
    return bytes_;
}

void FileSpool::dispatch_locked(std::vector<Job>& jobs) {
    // Bounded batches, so one huge backlog released at once is acknowledged in slices.
    size_t i = 0;
    while (i < jobs.size()) {
        size_t n = std::min(kMaxBatch, jobs.size() - i);
        auto* batch = new Batch;
        batch->jobs.assign(std::make_move_iterator(jobs.begin() + i),
                           std::make_move_iterator(jobs.begin() + i + n));
        batch->unfinished = n;
        for (size_t k = 0; k < n; ++k) work_.push_back({batch, k});
        i += n;
    }
    jobs.clear();
}

void FileSpool::sync_worker() {
    while (true) {
        WorkItem item;
        {
            std::unique_lock lk(mu_);
            work_cv_.wait(lk, [&] { return stop_ || !work_.empty(); });
            if (work_.empty()) return;  // stop_ and every job taken
            item = work_.front();
            work_.pop_front();
        }
        write_job(item.batch->jobs[item.index]);
        std::unique_lock lk(mu_);
        if (--item.batch->unfinished != 0) continue;
        ready_.emplace_back(item.batch);
        // The worker that completes a batch syncs the directory itself (no hand-off to another
        // thread: one wake-up less per message), unless another worker is already doing so; that
        // one checks ready_ again under mu_ before it stops, so nothing is left behind.
        if (!finishing_) lead_finishing(lk);
    }
}

void FileSpool::lead_finishing(std::unique_lock<std::mutex>& lk) {
    finishing_ = true;
    std::vector<std::unique_ptr<Batch>> round;
    while (!ready_.empty()) {
        round.swap(ready_);
        lk.unlock();
        finish_round(round);
        round.clear();
        lk.lock();
    }
    finishing_ = false;
}

void FileSpool::write_job(Job& job) {
    if (!base::is_valid_queue_id(job.id)) {
        job.outcome = {CommitStatus::IoError, "invalid queue id"};
        return;
    }
    std::vector<RecipientState> states(job.envelope.recipients.size(),
                                       options_.capture ? RecipientState::Captured
                                                        : RecipientState::Pending);
    std::string header =
        serialize_spool_header(job.id, job.created_ms != 0 ? job.created_ms : now_ms(), job.envelope,
                               states, job.message.size());
    job.bytes = header.size() + job.message.size();
    {
        // The quota counts what is stored plus every file still on its way (reserved_).
        std::lock_guard lk(mu_);
        if (options_.max_spool_bytes != 0 &&
            bytes_ + reserved_ + job.bytes > options_.max_spool_bytes) {
            job.outcome = {CommitStatus::NoSpace, "spool quota (max_spool_bytes) reached"};
            return;
        }
        reserved_ += job.bytes;
        job.reserved = true;
    }
    const std::string path = path_of(job.id);
    // 1. Create the file in queue/ under its final name. No rename: the directory entry is made
    // in the same journal transaction as the file, so the batch's directory fsync (step 3)
    // finds it already committed by step 2 and costs no journal commit of its own. Until
    // done(Ok) nothing reads it: the index learns of it only then, and recovery (which refuses
    // torn files) runs only under the spool lock, never beside a writer. O_EXCL: an existing
    // message is never overwritten.
    int fd = ::openat(queue_fd_, job.id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        int err = errno;
        job.outcome = {classify(err), errno_text("cannot create", path, err)};
        return;
    }
    int err = 0;
    const char* step = "cannot write";
    if (!write_all(fd, header, job.message, err)) {
        ::close(fd);
    } else {
        // 2. Data and size on stable storage. Many workers sync at once: the filesystem folds
        // their syncs into shared journal commits (docs/queue-format.md, "Durability").
        step = "cannot sync";
        if (::fdatasync(fd) != 0) err = errno;
        if (::close(fd) != 0 && err == 0) err = errno;
    }
    if (err != 0) {
        // Never acknowledged: take the partial file out of queue/ again.
        ::unlinkat(queue_fd_, job.id.c_str(), 0);
        job.outcome = {classify(err), errno_text(step, path, err)};
        return;
    }
    job.stored = true;
}

void FileSpool::finish_round(std::vector<std::unique_ptr<Batch>>& round) {
    // 3. One directory fsync makes the entry of every file of every batch in this round durable:
    // each was created before the fsync was issued. Workers keep writing the next messages
    // meanwhile.
    bool any_stored = false;
    for (auto& batch : round) {
        for (Job& job : batch->jobs) any_stored = any_stored || job.stored;
    }
    int dir_err = 0;
    if (any_stored && !fsync_queue_dir()) dir_err = errno;
    if (dir_err != 0) {
        // Not known to be durable: take the files back so nothing half-promised stays visible.
        for (auto& batch : round) {
            for (Job& job : batch->jobs) {
                if (!job.stored) continue;
                ::unlinkat(queue_fd_, job.id.c_str(), 0);
                job.stored = false;
                job.outcome = {classify(dir_err), errno_text("cannot sync", queue_dir_, dir_err)};
            }
        }
        ::fsync(queue_fd_);
    }
    {
        std::lock_guard lk(mu_);
        for (auto& batch : round) {
            bool batch_stored = false;
            for (Job& job : batch->jobs) {
                if (job.reserved) reserved_ -= job.bytes;
                if (job.stored) {
                    bytes_ += job.bytes;
                    ++stats_.commits;
                    batch_stored = true;
                } else {
                    ++stats_.failures;
                }
            }
            if (batch_stored) ++stats_.batches;
        }
    }
    // 4. Only now may the sessions reply 250.
    for (auto& batch : round) {
        for (Job& job : batch->jobs) {
            std::string().swap(job.message);
            if (job.done) job.done(std::move(job.outcome));
        }
    }
}

}  // namespace petrel::queue
