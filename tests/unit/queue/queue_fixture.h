// Test fixture for the queue manager: a temp data_dir, a FileSpool and a QueueManager over it,
// restartable (both destroyed and reopened on the same directory, as after a crash), and
// helpers that read the spool's segment log back from disk (spool format version 3) and build
// version 1/2 message files as earlier petrels wrote them (docs/queue-format.md).
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "queue/codec.h"
#include "queue/file_spool.h"
#include "queue/queue_manager.h"
#include "queue/segment_scan.h"
#include "queue/spool_entry.h"

namespace petrel::queue::testing {

// Runs `fn` with RLIMIT_FSIZE at `limit` bytes and SIGXFSZ ignored: a write past the limit
// fails with EFBIG, as one on a full disk fails with ENOSPC. Both are restored afterwards.
inline void with_file_size_limit(rlim_t limit, const std::function<void()>& fn) {
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = limit;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    fn();
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
}

// Wall-clock milliseconds, as the queue's times are.
inline int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A version 1 or 2 message file (header + message) exactly as docs/queue-format.md describes
// it: "PETREL-SPOOL <version>", the same fields as version 3, a "message <length>" line with
// ONE field (no message CRC), then the header CRC line. Built from the version 3 header by
// rewriting its first and "message" lines and recomputing the CRC.
inline std::string legacy_message_file(const std::string& id, int64_t created_ms,
                                       const mail::Envelope& e,
                                       const std::vector<RecipientState>& states,
                                       const std::string& message, int version = 2) {
    std::string h = serialize_spool_header(id, created_ms, e, states, message);
    h.replace(0, h.find('\n'), "PETREL-SPOOL " + std::to_string(version));
    const size_t msg_line = h.find("\nmessage ") + 1;
    h.erase(msg_line);  // drops the "message" and "crc" lines
    h += "message " + std::to_string(message.size()) + "\n";
    h += "crc " + crc32_hex(h) + "\n";
    return h + message;
}

class QueueFixture : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-qm-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        open();
    }
    void TearDown() override {
        close();
        std::filesystem::remove_all(dir_);
    }

    void open(bool capture = false) {
        spool_ = std::make_unique<FileSpool>(
            FileSpoolOptions{dir_, max_spool_bytes_, capture, segment_bytes_});
        qm_ = std::make_unique<QueueManager>(*spool_);
    }
    void close() {
        qm_.reset();
        spool_.reset();
    }
    // Stops everything and starts again on the same spool: what a restart after a crash sees
    // (every acknowledged write is on disk; nothing else is kept).
    RecoveryStats restart(bool capture = false) {
        close();
        return reopen(capture);
    }
    // After close() and changes to the files: open again and recover.
    RecoveryStats reopen(bool capture = false) {
        open(capture);
        return qm_->recover();
    }

    static mail::Envelope envelope(std::vector<std::string> rcpts = {"alice@example.test"},
                                   std::string sender = "sender@client.test") {
        mail::Envelope e;
        if (!sender.empty()) {
            auto at = sender.find('@');
            e.sender = mail::Mailbox{sender.substr(0, at), sender.substr(at + 1)};
        }
        for (const std::string& r : rcpts) {
            auto at = r.find('@');
            mail::Recipient rc;
            rc.mailbox = {r.substr(0, at), r.substr(at + 1)};
            e.recipients.push_back(rc);
        }
        e.facts.listener = "mx";
        e.facts.client_ip = "127.0.0.1";
        return e;
    }

    // Commits through the QueueManager and waits for `done`; returns the ID ("" on failure).
    std::string commit(mail::Envelope e = envelope(), std::string msg = "Subject: t\r\n\r\nhi\r\n") {
        std::string id = qm_->new_id();
        std::promise<CommitOutcome> p;
        auto f = p.get_future();
        qm_->commit(id, std::move(e), std::move(msg), [&p](CommitOutcome o) { p.set_value(std::move(o)); });
        return f.get().status == CommitStatus::Ok ? id : "";
    }

    // Version 1/2 layout (migrated at start-up): one file per message.
    std::string legacy_path(const std::string& id) const { return dir_ + "/spool/queue/" + id; }
    std::string journal_path(const std::string& id) const { return dir_ + "/spool/state/" + id; }
    std::string segments_dir() const { return dir_ + "/spool/segments"; }
    std::string log_path(uint32_t n) const { return segments_dir() + "/" + seg_name(n) + ".log"; }
    std::string removed_path(uint32_t n) const { return segments_dir() + "/" + seg_name(n) + ".removed"; }
    static std::string seg_name(uint32_t n) {
        std::string s = std::to_string(n);
        return std::string(10 - s.size(), '0') + s;
    }
    // Every segment log on disk, ascending by number.
    std::vector<uint32_t> segment_numbers() const {
        std::vector<uint32_t> out;
        if (!exists(segments_dir())) return out;
        for (const auto& f : std::filesystem::directory_iterator(segments_dir())) {
            const std::string name = f.path().filename().string();
            if (name.size() == 14 && name.ends_with(".log")) out.push_back(std::stoul(name.substr(0, 10)));
        }
        std::sort(out.begin(), out.end());
        return out;
    }
    struct DiskRecord {
        uint32_t segment = 0;
        ScannedRecord rec;
        bool tombstoned = false;
    };
    // Every good record of every segment, read back from disk, with its tombstone status.
    std::vector<DiskRecord> disk_records() const {
        std::vector<DiskRecord> out;
        for (uint32_t n : segment_numbers()) {
            const std::vector<std::string> tombs = read_tombstones(removed_path(n), false);
            scan_segment(log_path(n), [&](ScannedRecord&& r) {
                const bool t = std::binary_search(tombs.begin(), tombs.end(), r.entry.id);
                out.push_back({n, std::move(r), t});
            });
        }
        return out;
    }
    // The message has a record on disk that no tombstone removes (what a restart would load).
    bool stored(const std::string& id) const {
        for (const DiskRecord& d : disk_records()) {
            if (d.rec.entry.id == id && !d.tombstoned) return true;
        }
        return false;
    }
    static bool exists(const std::string& p) { return std::filesystem::exists(p); }
    // Bounded wait for something a spool thread does (the removal syncer runs within
    // FileSpool::kRemovalSyncDelay).
    static bool eventually(const std::function<bool()>& cond) {
        for (int i = 0; i < 500; ++i) {
            if (cond()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return cond();
    }
    static std::string slurp(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    static void spit(const std::string& p, const std::string& data) {
        std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
    }

    std::string dir_;
    uint64_t max_spool_bytes_ = 0;  // the quota the next open() uses
    uint64_t segment_bytes_ = 64ull << 20;  // the segment size the next open() uses
    std::unique_ptr<FileSpool> spool_;
    std::unique_ptr<QueueManager> qm_;
};

}  // namespace petrel::queue::testing
