// queue/file_spool.cpp — see file_spool.h and docs/queue-format.md.
#include "queue/file_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "base/ids.h"
#include "queue/codec.h"

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

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string segment_name(uint32_t n, const char* suffix) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%010u%s", n, suffix);
    return buf;
}

// "<10 digits><suffix>" -> the number.
bool parse_segment_name(const std::string& name, const char* suffix, uint32_t& n) {
    const size_t slen = std::strlen(suffix);
    if (name.size() != 10 + slen || name.compare(10, slen, suffix) != 0) return false;
    return parse_uint(std::string_view(name).substr(0, 10), n) && n != 0;
}

// Writes every byte of `iov` (advancing through short writes).
bool write_iov(int fd, std::vector<iovec>& iov, int& err) {
    size_t at = 0;
    while (at < iov.size()) {
        const int n = static_cast<int>(std::min<size_t>(iov.size() - at, IOV_MAX));
        ssize_t w = ::writev(fd, iov.data() + at, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            err = errno;
            return false;
        }
        auto left = static_cast<size_t>(w);
        while (at < iov.size() && left >= iov[at].iov_len) left -= iov[at++].iov_len;
        if (left != 0) {
            iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + left;
            iov[at].iov_len -= left;
        }
    }
    return true;
}

}  // namespace

FileSpool::FileSpool(FileSpoolOptions options) : options_(std::move(options)) {
    spool_dir_ = options_.data_dir + "/spool";
    segments_dir_ = spool_dir_ + "/segments";
    make_dir(options_.data_dir);
    make_dir(spool_dir_);
    make_dir(segments_dir_);
    // One writer per spool: a second daemon on the same data_dir would break the promises here.
    std::string lock_path = spool_dir_ + "/lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd_ < 0) throw std::runtime_error(errno_text("cannot open", lock_path, errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock_fd_);
        throw std::runtime_error("the spool " + spool_dir_ + " is in use by another petrel");
    }
    segments_fd_ = open_dir(segments_dir_);
    // tmp/ was used by version 1 (write there, then rename): its leftovers were never
    // acknowledged, so drop them.
    const std::string tmp_dir = spool_dir_ + "/tmp";
    for (const std::string& name : list_directory(tmp_dir)) {
        if (::unlink((tmp_dir + "/" + name).c_str()) == 0) ++stats_.removed_tmp;
    }
    ::rmdir(tmp_dir.c_str());
    std::vector<uint32_t> tombstones;
    for (const std::string& name : list_directory(segments_dir_)) {
        uint32_t n = 0;
        if (parse_segment_name(name, ".log", n)) existing_.push_back(n);
        else if (parse_segment_name(name, ".removed", n)) tombstones.push_back(n);
    }
    std::sort(existing_.begin(), existing_.end());
    // Tombstones of a segment already gone: its unlink came first (drop_segment_locked).
    for (uint32_t n : tombstones) {
        if (!std::binary_search(existing_.begin(), existing_.end(), n)) {
            ::unlinkat(segments_fd_, segment_name(n, ".removed").c_str(), 0);
        }
        next_segment_ = std::max(next_segment_, n + 1);
    }
    if (!existing_.empty()) next_segment_ = std::max(next_segment_, existing_.back() + 1);
    writer_thread_ = std::thread([this] { writer(); });
    removal_thread_ = std::thread([this] { removal_syncer(); });
}

FileSpool::~FileSpool() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;  // the writer still writes every pending commit, even while paused
    }
    work_cv_.notify_all();
    writer_thread_.join();
    removal_cv_.notify_all();
    removal_thread_.join();  // it syncs the tombstones still unsynced before it ends
    if (active_fd_ >= 0) ::close(active_fd_);
    for (auto& [n, s] : segments_) {
        if (s.tomb_fd >= 0) ::close(s.tomb_fd);
    }
    for (int fd : closing_fds_) ::close(fd);
    for (int fd : {segments_fd_, lock_fd_}) {
        if (fd >= 0) ::close(fd);
    }
}

std::string FileSpool::new_id() { return base::new_queue_id(); }

std::string FileSpool::segment_path(uint32_t segment) const {
    return segments_dir_ + "/" + segment_name(segment, ".log");
}

std::string FileSpool::tombstone_path(uint32_t segment) const {
    return segments_dir_ + "/" + segment_name(segment, ".removed");
}

void FileSpool::commit(std::string id, mail::Envelope envelope, std::string message,
                       std::function<void(CommitOutcome)> done) {
    commit_at(std::move(id), std::move(envelope), std::move(message), 0, std::move(done));
}

void FileSpool::commit_at(std::string id, mail::Envelope envelope, std::string message,
                          int64_t created_ms, std::function<void(CommitOutcome)> done,
                          const std::vector<RecipientState>* states) {
    Job job;
    if (!base::is_valid_queue_id(id)) {
        job.outcome = {CommitStatus::IoError, "invalid queue id", {}};
    } else {
        // The record is built here, on the session's thread (header, checksums): the writer
        // thread only appends and syncs, so it is never the CPU bottleneck of a batch.
        std::vector<RecipientState> initial(envelope.recipients.size(),
                                            options_.capture ? RecipientState::Captured
                                                             : RecipientState::Pending);
        job.header = serialize_spool_header(id, created_ms != 0 ? created_ms : now_ms(), envelope,
                                            states ? *states : initial, message);
    }
    job.id = std::move(id);
    job.message = std::move(message);
    job.done = std::move(done);
    {
        std::lock_guard lk(mu_);
        pending_.push_back(std::move(job));
        if (paused_ && !stop_) return;
    }
    work_cv_.notify_one();
}

void FileSpool::pause_for_testing(bool paused) {
    {
        std::lock_guard lk(mu_);
        paused_ = paused;
    }
    work_cv_.notify_all();
}

FileSpool::Stats FileSpool::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

uint64_t FileSpool::spool_bytes() const {
    std::lock_guard lk(mu_);
    return live_bytes_locked();
}

void FileSpool::writer() {
    std::unique_lock lk(mu_);
    while (true) {
        work_cv_.wait(lk, [&] { return stop_ || (!paused_ && !pending_.empty()); });
        if (pending_.empty()) {
            if (stop_) break;
            continue;
        }
        if (paused_ && !stop_) continue;
        // Everything waiting now is one group: one append, one fdatasync (in bounded slices).
        std::vector<Job> all;
        all.swap(pending_);
        lk.unlock();
        size_t i = 0;
        while (i < all.size()) {
            size_t n = 0, bytes = 0;
            while (i + n < all.size() && n < kMaxBatch &&
                   (n == 0 || bytes + all[i + n].message.size() <= kMaxBatchBytes)) {
                bytes += all[i + n].header.size() + all[i + n].message.size();
                ++n;
            }
            std::vector<Job> batch(std::make_move_iterator(all.begin() + i),
                                   std::make_move_iterator(all.begin() + i + n));
            write_batch(batch);
            i += n;
        }
        lk.lock();
    }
    lk.unlock();
    close_active();
}

bool FileSpool::open_active(std::string& error, int& err) {
    uint32_t n = 0;
    {
        std::lock_guard lk(mu_);
        n = next_segment_++;
    }
    const std::string name = segment_name(n, ".log");
    int fd = ::openat(segments_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        err = errno;
        error = errno_text("cannot create", segment_path(n), err);
        return false;
    }
    // Its tombstone file now too, with room reserved beyond its end (FALLOC_FL_KEEP_SIZE: the
    // size stays 0, appends use the reserved blocks): removals rarely need a new block, so a
    // full disk does not stop delivered mail from leaving the queue. Best effort: without it
    // (ENOSPC, a filesystem without fallocate) the file is made at the first removal.
    const std::string tomb = segment_name(n, ".removed");
    int tomb_fd = ::openat(segments_fd_, tomb.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    if (tomb_fd >= 0) {
        const uint64_t reserve = std::clamp<uint64_t>(options_.segment_bytes / 256, 4096, 256 * 1024);
        ::fallocate(tomb_fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(reserve));
    }
    // The new names must be durable before a record in the segment is acknowledged: the
    // records' own fdatasync covers the file's data and size, not its directory entry.
    if (::fsync(segments_fd_) != 0) {
        err = errno;
        error = errno_text("cannot sync", segments_dir_, err);
        ::close(fd);
        ::unlinkat(segments_fd_, name.c_str(), 0);
        if (tomb_fd >= 0) {
            ::close(tomb_fd);
            ::unlinkat(segments_fd_, tomb.c_str(), 0);
        }
        return false;
    }
    active_fd_ = fd;
    active_size_ = 0;
    std::lock_guard lk(mu_);
    segments_[n].tomb_fd = tomb_fd;
    active_no_ = n;
    ++stats_.segments_created;
    return true;
}

void FileSpool::close_active() {
    if (active_fd_ < 0) return;
    ::close(active_fd_);
    active_fd_ = -1;
    std::lock_guard lk(mu_);
    const uint32_t n = active_no_;
    active_no_ = 0;
    auto it = segments_.find(n);
    if (it != segments_.end() && it->second.live == 0) drop_segment_locked(n, it->second);
}

void FileSpool::write_batch(std::vector<Job>& jobs) {
    std::vector<Job*> storing;
    uint64_t batch_bytes = 0;
    {
        // The quota counts the live records plus this batch.
        std::lock_guard lk(mu_);
        const uint64_t live = live_bytes_locked();
        for (Job& job : jobs) {
            if (job.outcome.status != CommitStatus::Ok) continue;
            const uint64_t rec = job.header.size() + job.message.size();
            if (options_.max_spool_bytes != 0 && live + batch_bytes + rec > options_.max_spool_bytes) {
                job.outcome = {CommitStatus::NoSpace, "spool quota (max_spool_bytes) reached", {}};
                continue;
            }
            batch_bytes += rec;
            storing.push_back(&job);
        }
    }
    auto fail_all = [&](int err, const std::string& detail) {
        for (Job* job : storing) job->outcome = {classify(err), detail, {}};
        storing.clear();
    };
    if (!storing.empty() && active_fd_ < 0) {
        std::string error;
        int err = 0;
        if (!open_active(error, err)) fail_all(err, error);
    }
    if (!storing.empty()) {
        std::vector<iovec> iov;
        iov.reserve(storing.size() * 2);
        for (Job* job : storing) {
            iov.push_back({job->header.data(), job->header.size()});
            if (!job->message.empty()) iov.push_back({job->message.data(), job->message.size()});
        }
        const uint64_t start = active_size_;
        int err = 0;
        bool sync_failed = false;
        bool ok = write_iov(active_fd_, iov, err);
        if (ok && ::fdatasync(active_fd_) != 0) {
            // (The group commit: every record of the batch made durable by this one call.)
            err = errno;
            ok = false;
            sync_failed = true;
        }
        if (!ok) {
            const std::string path = segment_path(active_no_);
            // Cut the failed batch off again so nothing unacknowledged stays; after a failed
            // sync (or cut) the file's state is unknown: later records go to a new segment, so
            // whatever is left here is at its end, where recovery stops reading.
            const bool cut = ::ftruncate(active_fd_, static_cast<off_t>(start)) == 0;
            if (!cut || sync_failed) close_active();
            fail_all(err, errno_text(sync_failed ? "cannot sync" : "cannot write", path, err));
        } else {
            uint64_t at = start;
            for (Job* job : storing) {
                job->outcome.location = {active_no_, static_cast<uint32_t>(job->header.size()), at};
                at += job->header.size() + job->message.size();
            }
            active_size_ = at;
            std::lock_guard lk(mu_);
            Segment& seg = segments_[active_no_];
            seg.live += storing.size();
            seg.live_bytes += batch_bytes;
            seg.size = at;
            ++stats_.batches;
        }
    }
    {
        std::lock_guard lk(mu_);
        for (Job& job : jobs) {
            if (job.outcome.status == CommitStatus::Ok) ++stats_.commits;
            else ++stats_.failures;
        }
    }
    if (active_fd_ >= 0 && active_size_ >= options_.segment_bytes) close_active();
    // Only now may the sessions reply 250.
    for (Job& job : jobs) {
        std::string().swap(job.message);
        std::string().swap(job.header);
        if (job.done) job.done(std::move(job.outcome));
    }
}

void FileSpool::adopt_segment(uint32_t segment, uint64_t messages, uint64_t bytes,
                              uint64_t file_size) {
    std::lock_guard lk(mu_);
    Segment& s = segments_[segment];
    s.live += messages;
    s.live_bytes += bytes;
    s.size = std::max(s.size, file_size);
    if (s.live == 0 && segment != active_no_) drop_segment_locked(segment, s);
}

void FileSpool::drop_segment_locked(uint32_t n, Segment& s) {
    // The log first: tombstones left alone are removed at the next start, while a log left
    // without its tombstones would bring its removed messages back.
    ::unlinkat(segments_fd_, segment_name(n, ".log").c_str(), 0);
    ::unlinkat(segments_fd_, segment_name(n, ".removed").c_str(), 0);
    if (s.tomb_fd >= 0) closing_fds_.push_back(s.tomb_fd);  // synced, then closed, next round
    dir_dirty_ = true;
    ++removal_gen_;
    ++stats_.segments_removed;
    segments_.erase(n);
}

bool FileSpool::remove_message(const SpoolLocation& where, const std::string& id,
                               uint64_t record_bytes, std::function<void()> after_sync,
                               std::string* error) {
    if (!base::is_valid_queue_id(id)) {
        if (error) *error = "invalid queue id";
        return false;
    }
    std::lock_guard lk(mu_);
    auto it = segments_.find(where.segment);
    if (it == segments_.end()) {
        if (error) *error = "no segment " + segment_path(where.segment);
        return false;
    }
    Segment& s = it->second;
    if (s.tomb_fd < 0) {
        const std::string name = segment_name(where.segment, ".removed");
        int fd = ::openat(segments_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
        if (fd >= 0) dir_dirty_ = true;  // a new name: the sync round fsyncs segments/ too
        else if (errno == EEXIST) fd = ::openat(segments_fd_, name.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0) {
            if (error) *error = errno_text("cannot open", tombstone_path(where.segment), errno);
            return false;
        }
        s.tomb_fd = fd;
    }
    // One write of the whole line (a small O_APPEND write is not split by other writers; only
    // this thread writes the file under mu_). A torn line is cut off again at once, so the
    // next tombstone never lands behind half of one; recovery ignores a torn last line.
    const std::string line = id + "\n";
    ssize_t w = ::write(s.tomb_fd, line.data(), line.size());
    if (w != static_cast<ssize_t>(line.size())) {
        const int err = w < 0 ? errno : ENOSPC;
        struct stat st{};
        if (w > 0 && ::fstat(s.tomb_fd, &st) == 0) ::ftruncate(s.tomb_fd, st.st_size - w);
        if (error) *error = errno_text("cannot append to", tombstone_path(where.segment), err);
        return false;
    }
    s.tomb_dirty = true;
    ++removal_gen_;
    if (after_sync) after_sync_.push_back(std::move(after_sync));
    s.live_bytes -= std::min(s.live_bytes, record_bytes);
    if (s.live > 0) --s.live;
    if (s.live == 0 && where.segment != active_no_) drop_segment_locked(where.segment, s);
    return true;
}

uint64_t FileSpool::live_bytes_locked() const {
    uint64_t sum = 0;  // a few dozen segments: cheaper to add up than to keep a second count
    for (const auto& [n, s] : segments_) sum += s.live_bytes;
    return sum;
}

std::vector<uint32_t> FileSpool::sparse_segments(unsigned max_live_percent,
                                                 uint64_t min_dead_bytes) const {
    std::vector<uint32_t> out;
    std::lock_guard lk(mu_);
    for (const auto& [n, s] : segments_) {  // ascending: oldest first
        if (n == active_no_ || s.size == 0 || s.live == 0) continue;
        const uint64_t dead = s.size - std::min(s.size, s.live_bytes);
        if (dead >= min_dead_bytes && s.live_bytes * 100 <= s.size * max_live_percent) out.push_back(n);
    }
    return out;
}

bool FileSpool::sync_round() {
    std::vector<std::pair<uint32_t, int>> dirty;
    std::vector<int> closing;
    std::vector<std::function<void()>> actions;
    uint64_t gen = 0;
    bool dir = false;
    {
        std::lock_guard lk(mu_);
        gen = removal_gen_;
        if (removal_synced_ == gen) return true;
        for (auto& [n, s] : segments_) {
            if (s.tomb_dirty && s.tomb_fd >= 0) {
                dirty.emplace_back(n, s.tomb_fd);
                s.tomb_dirty = false;
            }
        }
        closing.swap(closing_fds_);
        actions.swap(after_sync_);
        dir = dir_dirty_;
        dir_dirty_ = false;
    }
    // A tombstone file's fd stays open until a round has synced it (drop_segment_locked hands
    // it to closing_fds_ rather than closing it), so the raw fds here stay valid.
    bool ok = true;
    for (auto& [n, fd] : dirty) ok = ::fdatasync(fd) == 0 && ok;
    for (int fd : closing) ok = ::fdatasync(fd) == 0 && ok;
    if (dir) ok = ::fsync(segments_fd_) == 0 && ok;
    if (ok) {
        // Only now may what depended on these removals happen (a state journal unlinked).
        for (auto& a : actions) a();
        for (int fd : closing) ::close(fd);
        std::lock_guard lk(mu_);
        removal_synced_ = std::max(removal_synced_, gen);
        ++stats_.removal_syncs;
        return true;
    }
    std::lock_guard lk(mu_);  // keep everything for the next round
    for (auto& [n, fd] : dirty) {
        auto it = segments_.find(n);
        if (it != segments_.end() && it->second.tomb_fd == fd) it->second.tomb_dirty = true;
    }
    closing_fds_.insert(closing_fds_.end(), closing.begin(), closing.end());
    after_sync_.insert(after_sync_.begin(), std::make_move_iterator(actions.begin()),
                       std::make_move_iterator(actions.end()));
    dir_dirty_ = dir_dirty_ || dir;
    return false;
}

bool FileSpool::sync_removals() {
    std::lock_guard round(sync_mu_);
    return sync_round();
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
        // Gather the removals of the next moments into one sync round.
        removal_cv_.wait_for(lk, kRemovalSyncDelay, [&] { return stop_; });
        removal_wanted_ = false;
        const bool more = removal_synced_ != removal_gen_;
        lk.unlock();
        bool ok = true;
        if (more) {
            std::lock_guard round(sync_mu_);
            ok = sync_round();
        }
        lk.lock();
        if (!ok && !stop_) removal_wanted_ = true;  // retried after the delay
        if (stop_) return;
    }
}

}  // namespace petrel::queue
