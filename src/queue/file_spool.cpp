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
    // Anything in tmp/ was never renamed, so never acknowledged: drop it.
    for (const std::string& name : list_names(tmp_fd_)) {
        if (::unlinkat(tmp_fd_, name.c_str(), 0) == 0) ++stats_.removed_tmp;
    }
    for (const std::string& name : list_names(queue_fd_)) {
        if (!base::is_valid_queue_id(name)) continue;
        struct stat st{};
        if (::fstatat(queue_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        ids_.insert(name);
        bytes_ += static_cast<uint64_t>(st.st_size);
    }
    writer_ = std::thread([this] { run(); });
}

FileSpool::~FileSpool() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    for (int fd : {tmp_fd_, queue_fd_, lock_fd_}) {
        if (fd >= 0) ::close(fd);
    }
}

std::string FileSpool::new_id() { return base::new_queue_id(); }

void FileSpool::commit(std::string id, mail::Envelope envelope, std::string message,
                       std::function<void(CommitOutcome)> done) {
    {
        std::lock_guard lk(mu_);
        Job job;
        job.id = std::move(id);
        job.envelope = std::move(envelope);
        job.message = std::move(message);
        job.done = std::move(done);
        pending_.push_back(std::move(job));
    }
    cv_.notify_one();
}

void FileSpool::pause_for_testing(bool paused) {
    {
        std::lock_guard lk(mu_);
        paused_ = paused;
    }
    cv_.notify_all();
}

FileSpool::Stats FileSpool::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

std::vector<std::string> FileSpool::queued_ids() const {
    std::lock_guard lk(mu_);
    return {ids_.begin(), ids_.end()};
}

uint64_t FileSpool::spool_bytes() const {
    std::lock_guard lk(mu_);
    return bytes_;
}

void FileSpool::run() {
    std::vector<Job> batch;
    while (true) {
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return stop_ || (!paused_ && !pending_.empty()); });
            if (pending_.empty()) return;  // stop_ and nothing left to write
            if (pending_.size() <= kMaxBatch) {
                batch.swap(pending_);
            } else {  // bounded: each file of a batch holds a descriptor until it is synced
                batch.assign(std::make_move_iterator(pending_.begin()),
                             std::make_move_iterator(pending_.begin() + kMaxBatch));
                pending_.erase(pending_.begin(), pending_.begin() + kMaxBatch);
            }
        }
        write_batch(batch);
        batch.clear();
    }
}

void FileSpool::write_one(Job& job, uint64_t& reserved) {
    if (!base::is_valid_queue_id(job.id)) {
        job.outcome = {CommitStatus::IoError, "invalid queue id"};
        return;
    }
    std::vector<RecipientState> states(job.envelope.recipients.size(),
                                       options_.capture ? RecipientState::Captured
                                                        : RecipientState::Pending);
    std::string header =
        serialize_spool_header(job.id, now_ms(), job.envelope, states, job.message.size());
    job.bytes = header.size() + job.message.size();
    uint64_t current;
    {
        std::lock_guard lk(mu_);
        current = bytes_;
    }
    if (options_.max_spool_bytes != 0 && current + reserved + job.bytes > options_.max_spool_bytes) {
        job.outcome = {CommitStatus::NoSpace, "spool quota (max_spool_bytes) reached"};
        return;
    }
    int fd = ::openat(tmp_fd_, job.id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        int err = errno;
        job.outcome = {classify(err), errno_text("cannot create", tmp_dir_ + "/" + job.id, err)};
        return;
    }
    int err = 0;
    if (!write_all(fd, header, job.message, err)) {
        ::close(fd);
        ::unlinkat(tmp_fd_, job.id.c_str(), 0);
        job.outcome = {classify(err), errno_text("cannot write", tmp_dir_ + "/" + job.id, err)};
        return;
    }
    job.fd = fd;
    reserved += job.bytes;
}

void FileSpool::sync_written(std::vector<Job>& batch) {
    std::vector<Job*> open;
    for (Job& job : batch) {
        if (job.fd >= 0) open.push_back(&job);
    }
    auto sync_one = [this](Job& job) {
        int err = 0;
        if (::fdatasync(job.fd) != 0) err = errno;
        if (::close(job.fd) != 0 && err == 0) err = errno;
        job.fd = -1;
        if (err != 0) {
            ::unlinkat(tmp_fd_, job.id.c_str(), 0);
            job.outcome = {classify(err), errno_text("cannot sync", tmp_dir_ + "/" + job.id, err)};
        } else {
            job.written = true;
        }
    };
    // Syncs issued together let the filesystem merge them into fewer journal commits (measured
    // on ext4: 200 files synced from 16 threads took about a third of the time of one thread).
    const size_t workers = std::min<size_t>(kSyncThreads, open.size() / 4);
    if (workers <= 1) {
        for (Job* job : open) sync_one(*job);
        return;
    }
    std::vector<std::thread> threads;
    threads.reserve(workers);
    for (size_t w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            for (size_t i = w; i < open.size(); i += workers) sync_one(*open[i]);
        });
    }
    for (auto& t : threads) t.join();
}

void FileSpool::write_batch(std::vector<Job>& batch) {
    uint64_t reserved = 0;
    // 1. Each message to tmp/, then every file's data synced.
    for (Job& job : batch) write_one(job, reserved);
    sync_written(batch);
    // 2. Rename them all into queue/.
    bool any_renamed = false;
    for (Job& job : batch) {
        if (!job.written) continue;
        if (::renameat(tmp_fd_, job.id.c_str(), queue_fd_, job.id.c_str()) != 0) {
            int err = errno;
            ::unlinkat(tmp_fd_, job.id.c_str(), 0);
            job.outcome = {classify(err), errno_text("cannot rename", job.id, err)};
            continue;
        }
        job.renamed = true;
        any_renamed = true;
    }
    // 3. One directory fsync makes every rename of the batch durable.
    bool dir_ok = true;
    int dir_err = 0;
    if (any_renamed && ::fsync(queue_fd_) != 0) {
        dir_ok = false;
        dir_err = errno;
    }
    if (!dir_ok) {
        // Not known to be durable: take the files back so nothing half-promised stays visible.
        for (Job& job : batch) {
            if (!job.renamed) continue;
            ::unlinkat(queue_fd_, job.id.c_str(), 0);
            job.renamed = false;
            job.outcome = {classify(dir_err), errno_text("cannot sync", queue_dir_, dir_err)};
        }
        ::fsync(queue_fd_);
    }
    {
        std::lock_guard lk(mu_);
        if (any_renamed) {
            ++stats_.batches;
            ++stats_.dir_fsyncs;
        }
        for (Job& job : batch) {
            if (job.renamed) {
                ids_.insert(job.id);
                bytes_ += job.bytes;
                ++stats_.commits;
            } else {
                ++stats_.failures;
            }
        }
    }
    // 4. Only now may the sessions reply 250.
    for (Job& job : batch) {
        std::string().swap(job.message);
        if (job.done) job.done(std::move(job.outcome));
    }
}

}  // namespace petrel::queue
