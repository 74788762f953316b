// Unit tests for queue::FileSpool (spool format version 3, the segment log): commit then read
// back at the returned location, group commit (one append and one fdatasync per batch),
// bounded batches, segment rotation and unlinking, the quota, tombstones and their sync,
// start-up cleanup, and a failed append cut off again.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "queue/codec.h"
#include "queue/file_spool.h"
#include "queue/segment_scan.h"
#include "unit/queue/queue_fixture.h"

namespace petrel::queue {
namespace {

namespace fs = std::filesystem;

class FileSpoolTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-spool-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    static mail::Envelope envelope(const std::string& rcpt = "alice") {
        mail::Envelope e;
        e.sender = mail::Mailbox{"sender", "client.test"};
        mail::Recipient r;
        r.mailbox = {rcpt, "example.test"};
        e.recipients = {r};
        e.facts.listener = "mx";
        e.facts.client_ip = "127.0.0.1";
        return e;
    }

    // Commits and waits for `done`.
    static CommitOutcome commit_sync(FileSpool& spool, const std::string& id, const std::string& msg,
                                     mail::Envelope e = envelope()) {
        std::promise<CommitOutcome> p;
        auto f = p.get_future();
        spool.commit(id, std::move(e), msg, [&p](CommitOutcome o) { p.set_value(std::move(o)); });
        return f.get();
    }

    // The size of the record `msg` gets with envelope(): the header length does not depend on
    // the ID or the time (fixed widths), only on the envelope and the message length.
    static uint64_t record_size(const std::string& msg) {
        return serialize_spool_header("0000000000000a", 1700000000000, envelope(),
                                      {RecipientState::Pending}, msg)
                   .size() +
               msg.size();
    }

    static std::string slurp(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    static uint64_t file_size(const std::string& p) { return fs::file_size(p); }
    static std::vector<std::string> names(const std::string& dir) {
        std::vector<std::string> out;
        if (!fs::exists(dir)) return out;
        for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
    std::string seg_dir() const { return dir_ + "/spool/segments"; }

    std::string dir_;
};

TEST_F(FileSpoolTest, CommitThenReadBackAtItsLocation) {
    FileSpool spool({dir_, 0, false});
    const std::string id = spool.new_id();
    const std::string msg = "Received: x\r\nSubject: hi\r\n\r\nbody\r\n";
    CommitOutcome o = commit_sync(spool, id, msg);
    ASSERT_EQ(o.status, CommitStatus::Ok) << o.detail;
    EXPECT_EQ(o.location.segment, 1u);
    EXPECT_EQ(o.location.offset, 0u);
    const std::string path = spool.segment_path(o.location.segment);
    EXPECT_EQ(path, seg_dir() + "/0000000001.log");
    const uint64_t rec = o.location.header_bytes + msg.size();
    EXPECT_EQ(file_size(path), rec);
    EXPECT_EQ(spool.spool_bytes(), rec);

    ReadResult r = read_spool_record(path, o.location.offset, rec, 1 << 20);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.id, id);
    EXPECT_EQ(r.entry.version, 3);
    EXPECT_EQ(r.entry.path, path);
    EXPECT_EQ(r.entry.envelope.sender->local, "sender");
    EXPECT_EQ(r.entry.envelope.recipients[0].mailbox.local, "alice");
    EXPECT_EQ(r.entry.envelope.facts.listener, "mx");
    EXPECT_EQ(r.entry.states, std::vector<RecipientState>{RecipientState::Pending});
    EXPECT_EQ(r.entry.message_size, msg.size());
    EXPECT_EQ(r.entry.message_offset, o.location.header_bytes);
    ASSERT_TRUE(r.entry.message_crc);
    EXPECT_EQ(*r.entry.message_crc, crc32(msg));
    ASSERT_TRUE(r.message);
    EXPECT_EQ(*r.message, msg);
    EXPECT_EQ(slurp(path).substr(o.location.header_bytes), msg);
    EXPECT_EQ(slurp(path).rfind("PETREL-SPOOL 3\n", 0), 0u);

    // The next record follows directly; its location is absolute in the same file.
    const std::string id2 = spool.new_id(), msg2 = "Subject: two\r\n\r\n2\r\n";
    CommitOutcome o2 = commit_sync(spool, id2, msg2);
    ASSERT_EQ(o2.status, CommitStatus::Ok) << o2.detail;
    EXPECT_EQ(o2.location.segment, 1u);
    EXPECT_EQ(o2.location.offset, rec);
    ReadResult r2 = read_spool_record(path, o2.location.offset, o2.location.header_bytes + msg2.size(), 1 << 20);
    ASSERT_TRUE(r2.ok) << r2.error;
    EXPECT_EQ(r2.entry.id, id2);
    EXPECT_EQ(r2.entry.message_offset, rec + o2.location.header_bytes);
    EXPECT_EQ(*r2.message, msg2);
    // Without inline_max only the header is read.
    ReadResult h = read_spool_record(path, o2.location.offset, o2.location.header_bytes + msg2.size());
    ASSERT_TRUE(h.ok) << h.error;
    EXPECT_FALSE(h.message);
    EXPECT_EQ(spool.spool_bytes(), rec + o2.location.header_bytes + msg2.size());
    EXPECT_EQ(spool.stats().commits, 2u);
    EXPECT_EQ(spool.stats().batches, 2u);
    EXPECT_EQ(spool.stats().segments_created, 1u);

    struct stat st{};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    ASSERT_EQ(::stat((dir_ + "/spool").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0750u);
    ASSERT_EQ(::stat(seg_dir().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST_F(FileSpoolTest, CaptureModeMarksRecipients) {
    FileSpool spool({dir_, 0, true});
    EXPECT_TRUE(spool.capture());
    CommitOutcome o = commit_sync(spool, spool.new_id(), "x\r\n");
    ASSERT_EQ(o.status, CommitStatus::Ok);
    ReadResult r = read_spool_record(spool.segment_path(o.location.segment), o.location.offset,
                                     o.location.header_bytes + 3);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.states, std::vector<RecipientState>{RecipientState::Captured});
}

TEST_F(FileSpoolTest, CommitAtKeepsCreationTimeAndStates) {
    FileSpool spool({dir_, 0, false});
    mail::Envelope e = envelope();
    e.recipients.push_back(e.recipients[0]);
    e.recipients[1].mailbox.local = "bob";
    const std::vector<RecipientState> states{RecipientState::Delivered, RecipientState::Pending};
    std::promise<CommitOutcome> p;
    spool.commit_at(spool.new_id(), e, "m\r\n", 1600000000000,
                    [&](CommitOutcome o) { p.set_value(std::move(o)); }, &states);
    CommitOutcome o = p.get_future().get();
    ASSERT_EQ(o.status, CommitStatus::Ok) << o.detail;
    ReadResult r = read_spool_record(spool.segment_path(o.location.segment), o.location.offset,
                                     o.location.header_bytes + 3);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.created_ms, 1600000000000);
    EXPECT_EQ(r.entry.states, states);
}

// The group commit: every commit waiting when the writer runs is appended with one writev and
// made durable with one fdatasync, back to back in one segment.
TEST_F(FileSpoolTest, GroupCommitWritesWaitingCommitsAsOneBatch) {
    FileSpool spool({dir_, 0, false});
    spool.pause_for_testing(true);
    constexpr int kThreads = 8, kPer = 25, kTotal = kThreads * kPer;
    std::mutex mu;
    std::map<std::string, std::pair<std::string, CommitOutcome>> results;  // id -> message, outcome
    std::atomic<int> calls{0};
    std::promise<void> all_done;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPer; ++i) {
                // Built by append: GCC 12 warns falsely (-Wrestrict) on "literal" + to_string().
                std::string user = "u", body = "message ";
                user += std::to_string(t * 100 + i);
                body += std::string(static_cast<size_t>(i), 'x');  // different lengths
                body += "\r\n";
                const std::string id = spool.new_id();
                spool.commit(id, envelope(user), body, [&, id, body](CommitOutcome o) {
                    {
                        std::lock_guard lk(mu);
                        results[id] = {body, std::move(o)};
                    }
                    if (++calls == kTotal) all_done.set_value();
                });
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(calls.load(), 0);  // nothing acknowledged while the writer is held
    EXPECT_EQ(spool.stats().batches, 0u);
    spool.pause_for_testing(false);
    ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    FileSpool::Stats s = spool.stats();
    EXPECT_EQ(s.commits, static_cast<uint64_t>(kTotal));
    EXPECT_EQ(s.failures, 0u);
    EXPECT_EQ(s.batches, 1u);  // ONE fdatasync for all 200
    EXPECT_EQ(s.segments_created, 1u);
    ASSERT_EQ(results.size(), static_cast<size_t>(kTotal));
    // All in segment 1, at consecutive offsets from 0, covering the file exactly.
    std::vector<std::pair<uint64_t, std::string>> by_offset;
    for (auto& [id, r] : results) {
        ASSERT_EQ(r.second.status, CommitStatus::Ok) << r.second.detail;
        EXPECT_EQ(r.second.location.segment, 1u);
        by_offset.emplace_back(r.second.location.offset, id);
    }
    std::sort(by_offset.begin(), by_offset.end());
    uint64_t expect = 0;
    const std::string path = spool.segment_path(1);
    for (auto& [off, id] : by_offset) {
        const auto& [body, o] = results[id];
        EXPECT_EQ(off, expect) << id;
        ReadResult r = read_spool_record(path, off, o.location.header_bytes + body.size(), 1 << 20);
        ASSERT_TRUE(r.ok) << id << ": " << r.error;
        EXPECT_EQ(r.entry.id, id);
        EXPECT_EQ(*r.message, body);
        expect = off + o.location.header_bytes + body.size();
    }
    EXPECT_EQ(file_size(path), expect);
    EXPECT_EQ(spool.spool_bytes(), expect);
}

TEST_F(FileSpoolTest, ReleasedBacklogIsSplitIntoBoundedBatches) {
    FileSpool spool({dir_, 0, false});
    spool.pause_for_testing(true);
    constexpr int kCount = static_cast<int>(FileSpool::kMaxBatch) + 8;
    std::atomic<int> ok{0}, calls{0};
    std::promise<void> all_done;
    std::mutex mu;
    std::vector<SpoolLocation> where;
    for (int i = 0; i < kCount; ++i) {
        spool.commit(spool.new_id(), envelope(), "m\r\n", [&](CommitOutcome o) {
            if (o.status == CommitStatus::Ok) ++ok;
            {
                std::lock_guard lk(mu);
                where.push_back(o.location);
            }
            if (++calls == kCount) all_done.set_value();
        });
    }
    spool.pause_for_testing(false);
    ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    EXPECT_EQ(ok.load(), kCount);
    EXPECT_EQ(spool.stats().batches, 2u);  // 512 + 8
    // Still one contiguous log.
    std::sort(where.begin(), where.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    uint64_t at = 0;
    for (const SpoolLocation& l : where) {
        EXPECT_EQ(l.segment, 1u);
        EXPECT_EQ(l.offset, at);
        at += l.header_bytes + 3;
    }
    EXPECT_EQ(file_size(spool.segment_path(1)), at);
}

TEST_F(FileSpoolTest, BatchIsBoundedInBytesToo) {
    FileSpool spool({dir_, 0, false});
    spool.pause_for_testing(true);
    const std::string big(3u << 20, 'b');  // 11 x 3 MiB: 10 fit in kMaxBatchBytes (32 MiB)
    static_assert(FileSpool::kMaxBatchBytes == 32ull << 20);
    std::vector<std::future<CommitOutcome>> fs;
    std::vector<std::shared_ptr<std::promise<CommitOutcome>>> ps;
    for (int i = 0; i < 11; ++i) {
        auto p = std::make_shared<std::promise<CommitOutcome>>();
        fs.push_back(p->get_future());
        spool.commit(spool.new_id(), envelope(), big, [p](CommitOutcome o) { p->set_value(std::move(o)); });
        ps.push_back(p);
    }
    spool.pause_for_testing(false);
    for (auto& f : fs) EXPECT_EQ(f.get().status, CommitStatus::Ok);
    EXPECT_EQ(spool.stats().batches, 2u);
}

TEST_F(FileSpoolTest, ConcurrentCommitsWithoutPauseShareBatches) {
    FileSpool spool({dir_, 0, false});
    constexpr int kThreads = 8, kPer = 20;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kPer; ++i) {
                if (commit_sync(spool, spool.new_id(), "m\r\n").status == CommitStatus::Ok) ++ok;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), kThreads * kPer);
    const FileSpool::Stats s = spool.stats();
    EXPECT_EQ(s.commits, static_cast<uint64_t>(kThreads * kPer));
    // Eight sessions waiting on an fdatasync each time: later ones share the next batch.
    EXPECT_LT(s.batches, s.commits);
    EXPECT_GE(s.batches, 1u);
    // Every record is readable back to back.
    uint64_t records = 0;
    SegmentScan scan = scan_segment(spool.segment_path(1), [&](ScannedRecord&&) { ++records; });
    EXPECT_EQ(records, static_cast<uint64_t>(kThreads * kPer));
    EXPECT_EQ(scan.stop_reason, "");
    EXPECT_EQ(scan.good_end, scan.file_size);
}

// Rotation: a segment is closed once it reaches segment_bytes; one whose records are all
// removed is unlinked with its tombstones, unless it is the active one.
TEST_F(FileSpoolTest, SegmentsRotateAndFullyRemovedOnesAreUnlinked) {
    const std::string msg = "Subject: r\r\n\r\nrotate\r\n";
    const uint64_t rec = record_size(msg);
    std::vector<std::string> ids;
    std::vector<SpoolLocation> at;
    {
        FileSpool spool({dir_, 0, false, 2 * rec});  // two records per segment
        for (int i = 0; i < 5; ++i) {
            ids.push_back(spool.new_id());
            CommitOutcome o = commit_sync(spool, ids.back(), msg);
            ASSERT_EQ(o.status, CommitStatus::Ok) << o.detail;
            ASSERT_EQ(o.location.header_bytes + msg.size(), rec);
            at.push_back(o.location);
        }
        const uint32_t want_seg[] = {1, 1, 2, 2, 3};
        const uint64_t want_off[] = {0, rec, 0, rec, 0};
        for (int i = 0; i < 5; ++i) {
            EXPECT_EQ(at[i].segment, want_seg[i]) << i;
            EXPECT_EQ(at[i].offset, want_off[i]) << i;
        }
        EXPECT_EQ(spool.stats().segments_created, 3u);
        // Each segment comes with its tombstone file, empty but with blocks reserved, so a
        // removal on a full disk rarely needs a new one.
        EXPECT_EQ(names(seg_dir()),
                  (std::vector<std::string>{"0000000001.log", "0000000001.removed", "0000000002.log",
                                            "0000000002.removed", "0000000003.log", "0000000003.removed"}));
        struct stat tst{};
        ASSERT_EQ(::stat(spool.tombstone_path(1).c_str(), &tst), 0);
        EXPECT_EQ(tst.st_size, 0);
        EXPECT_GE(static_cast<uint64_t>(tst.st_blocks) * 512, 4096u) << "no space reserved";
        EXPECT_EQ(file_size(spool.segment_path(1)), 2 * rec);
        EXPECT_EQ(spool.spool_bytes(), 5 * rec);

        // One of two removed: the segment stays, with a tombstone.
        ASSERT_TRUE(spool.remove_message(at[0], ids[0], rec, nullptr));
        EXPECT_EQ(slurp(spool.tombstone_path(1)), ids[0] + "\n");
        EXPECT_TRUE(fs::exists(spool.segment_path(1)));
        EXPECT_EQ(spool.stats().segments_removed, 0u);
        // Both removed: .log and .removed go.
        ASSERT_TRUE(spool.remove_message(at[1], ids[1], rec, nullptr));
        EXPECT_FALSE(fs::exists(spool.segment_path(1)));
        EXPECT_FALSE(fs::exists(spool.tombstone_path(1)));
        EXPECT_EQ(spool.stats().segments_removed, 1u);
        // The active segment (3) keeps its file though its only record is removed.
        ASSERT_TRUE(spool.remove_message(at[4], ids[4], rec, nullptr));
        EXPECT_TRUE(fs::exists(spool.segment_path(3)));
        EXPECT_EQ(slurp(spool.tombstone_path(3)), ids[4] + "\n");
        EXPECT_EQ(spool.stats().segments_removed, 1u);
        EXPECT_EQ(spool.spool_bytes(), 2 * rec);
        // A removal in a segment already gone is refused.
        std::string error;
        EXPECT_FALSE(spool.remove_message(at[0], ids[0], rec, nullptr, &error));
        EXPECT_NE(error.find("no segment"), std::string::npos) << error;
        EXPECT_TRUE(spool.sync_removals());
        EXPECT_TRUE(spool.removals_synced());
        EXPECT_EQ(names(seg_dir()), (std::vector<std::string>{"0000000002.log", "0000000002.removed",
                                                              "0000000003.log", "0000000003.removed"}));
    }
    // Closing the spool closes the active segment: with no live record it goes too.
    EXPECT_EQ(names(seg_dir()), (std::vector<std::string>{"0000000002.log", "0000000002.removed"}));
    // Reopened: the numbering continues after the highest segment, never reusing one.
    FileSpool spool({dir_, 0, false, 2 * rec});
    EXPECT_EQ(spool.existing_segments(), std::vector<uint32_t>{2});
    CommitOutcome o = commit_sync(spool, spool.new_id(), msg);
    ASSERT_EQ(o.status, CommitStatus::Ok);
    EXPECT_EQ(o.location.segment, 3u);
    EXPECT_EQ(o.location.offset, 0u);
}

TEST_F(FileSpoolTest, SegmentIsClosedOnceItPassesTheLimit) {
    const std::string small = "s\r\n", big(10000, 'B');
    FileSpool spool({dir_, 0, false, 4096});
    CommitOutcome a = commit_sync(spool, spool.new_id(), small);
    CommitOutcome b = commit_sync(spool, spool.new_id(), big);
    CommitOutcome c = commit_sync(spool, spool.new_id(), small);
    ASSERT_EQ(a.status, CommitStatus::Ok);
    ASSERT_EQ(b.status, CommitStatus::Ok);
    ASSERT_EQ(c.status, CommitStatus::Ok);
    // a and b share segment 1 (it was under 4096 when b came), which b pushed over the limit.
    EXPECT_EQ(a.location.segment, 1u);
    EXPECT_EQ(b.location.segment, 1u);
    EXPECT_EQ(b.location.offset, a.location.header_bytes + small.size());
    EXPECT_EQ(c.location.segment, 2u);
    EXPECT_EQ(c.location.offset, 0u);
}

TEST_F(FileSpoolTest, QuotaGivesNoSpaceAndRemovalGivesTheBytesBack) {
    const std::string big(1500, 'x');
    const uint64_t rec = record_size(big);
    FileSpool spool({dir_, rec + 600, false});  // one big record and a bit
    const std::string a = spool.new_id();
    CommitOutcome oa = commit_sync(spool, a, big);
    ASSERT_EQ(oa.status, CommitStatus::Ok) << oa.detail;
    EXPECT_EQ(spool.spool_bytes(), rec);
    const uint64_t size_before = file_size(spool.segment_path(1));
    CommitOutcome ob = commit_sync(spool, spool.new_id(), big);
    EXPECT_EQ(ob.status, CommitStatus::NoSpace);
    EXPECT_FALSE(ob.detail.empty());
    EXPECT_EQ(file_size(spool.segment_path(1)), size_before);  // nothing of it written
    EXPECT_EQ(spool.spool_bytes(), rec);
    EXPECT_EQ(spool.stats().failures, 1u);
    // A small one still fits.
    CommitOutcome os = commit_sync(spool, spool.new_id(), "small\r\n");
    ASSERT_EQ(os.status, CommitStatus::Ok);
    const uint64_t small_rec = os.location.header_bytes + 7;
    EXPECT_EQ(spool.spool_bytes(), rec + small_rec);
    // Removing the big one gives its bytes back: the big one fits again.
    ASSERT_TRUE(spool.remove_message(oa.location, a, rec, nullptr));
    EXPECT_EQ(spool.spool_bytes(), small_rec);
    EXPECT_EQ(commit_sync(spool, spool.new_id(), big).status, CommitStatus::Ok);
    EXPECT_EQ(spool.spool_bytes(), small_rec + rec);
}

TEST_F(FileSpoolTest, QuotaCountsTheWholeBatch) {
    const std::string msg(1200, 'y');
    const uint64_t rec = record_size(msg);
    FileSpool spool({dir_, 2 * rec + rec / 2, false});  // two of the three fit
    spool.pause_for_testing(true);
    std::vector<std::future<CommitOutcome>> results;
    std::vector<std::shared_ptr<std::promise<CommitOutcome>>> promises;
    for (int i = 0; i < 3; ++i) {
        auto p = std::make_shared<std::promise<CommitOutcome>>();
        results.push_back(p->get_future());
        spool.commit(spool.new_id(), envelope(), msg, [p](CommitOutcome o) { p->set_value(std::move(o)); });
        promises.push_back(p);
    }
    spool.pause_for_testing(false);
    int ok = 0, nospace = 0;
    for (auto& f : results) {
        auto s = f.get().status;
        ok += s == CommitStatus::Ok;
        nospace += s == CommitStatus::NoSpace;
    }
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(nospace, 1);
    EXPECT_EQ(spool.stats().batches, 1u);
    EXPECT_EQ(file_size(spool.segment_path(1)), 2 * rec);
}

TEST_F(FileSpoolTest, SecondSpoolOnSameDirIsRefused) {
    FileSpool spool({dir_, 0, false});
    EXPECT_THROW(FileSpool({dir_, 0, false}), std::runtime_error);
    // The first one still works.
    EXPECT_EQ(commit_sync(spool, spool.new_id(), "m\r\n").status, CommitStatus::Ok);
}

TEST_F(FileSpoolTest, StartupRemovesTmpLeftoversAndStrayTombstones) {
    uint64_t bytes = 0;
    {
        FileSpool spool({dir_, 0, false});
        ASSERT_EQ(commit_sync(spool, spool.new_id(), "one\r\n").status, CommitStatus::Ok);
        ASSERT_EQ(commit_sync(spool, spool.new_id(), "two\r\n").status, CommitStatus::Ok);
        bytes = spool.spool_bytes();
    }
    // Version 1 wrote to tmp/ before a rename: leftovers were never acknowledged.
    fs::create_directories(dir_ + "/spool/tmp");
    std::ofstream(dir_ + "/spool/tmp/0000000000000x") << "PETREL-SPOOL 1\nid half";
    std::ofstream(dir_ + "/spool/tmp/junk") << "junk";
    // Tombstones of a segment whose log is gone (its unlink came first), and unrelated names.
    std::ofstream(seg_dir() + "/0000000007.removed") << "0000000000000a\n";
    std::ofstream(seg_dir() + "/notes.txt") << "x";
    FileSpool spool({dir_, 0, false});
    EXPECT_EQ(spool.stats().removed_tmp, 2u);
    EXPECT_FALSE(fs::exists(dir_ + "/spool/tmp"));
    EXPECT_FALSE(fs::exists(seg_dir() + "/0000000007.removed"));
    EXPECT_TRUE(fs::exists(seg_dir() + "/notes.txt"));  // not the spool's: left alone
    EXPECT_EQ(spool.existing_segments(), std::vector<uint32_t>{1});
    // The spool counts nothing itself at start-up: recovery adopts each segment's live bytes.
    EXPECT_EQ(spool.spool_bytes(), 0u);
    spool.adopt_segment(1, 2, bytes);
    EXPECT_EQ(spool.spool_bytes(), bytes);
    // A new segment is numbered after the stray tombstone's too.
    CommitOutcome o = commit_sync(spool, spool.new_id(), "three\r\n");
    ASSERT_EQ(o.status, CommitStatus::Ok);
    EXPECT_EQ(o.location.segment, 8u);
}

TEST_F(FileSpoolTest, AdoptingASegmentWithoutLiveRecordsUnlinksIt) {
    {
        FileSpool spool({dir_, 0, false, 1});  // every batch closes its segment
        ASSERT_EQ(commit_sync(spool, spool.new_id(), "one\r\n").status, CommitStatus::Ok);
        ASSERT_EQ(commit_sync(spool, spool.new_id(), "two\r\n").status, CommitStatus::Ok);
    }
    std::ofstream(seg_dir() + "/0000000001.removed") << "whatever\n";
    FileSpool spool({dir_, 0, false});
    EXPECT_EQ(spool.existing_segments(), (std::vector<uint32_t>{1, 2}));
    spool.adopt_segment(1, 0, 0);
    spool.adopt_segment(2, 1, 100);
    EXPECT_FALSE(fs::exists(seg_dir() + "/0000000001.log"));
    EXPECT_FALSE(fs::exists(seg_dir() + "/0000000001.removed"));
    EXPECT_TRUE(fs::exists(seg_dir() + "/0000000002.log"));
    EXPECT_EQ(spool.stats().segments_removed, 1u);
    EXPECT_EQ(spool.spool_bytes(), 100u);
    EXPECT_FALSE(spool.removals_synced());  // the unlink waits for a directory sync
    EXPECT_TRUE(spool.sync_removals());
    EXPECT_TRUE(spool.removals_synced());
}

TEST_F(FileSpoolTest, RemoveMessageWritesATombstoneAndSyncRunsAfterSyncActions) {
    FileSpool spool({dir_, 0, false});
    const std::string a = spool.new_id(), b = spool.new_id();
    CommitOutcome oa = commit_sync(spool, a, "a\r\n");
    CommitOutcome ob = commit_sync(spool, b, "b\r\n");
    ASSERT_EQ(oa.status, CommitStatus::Ok);
    ASSERT_EQ(ob.status, CommitStatus::Ok);
    EXPECT_TRUE(spool.removals_synced());  // nothing to sync yet
    std::atomic<bool> ran{false};
    std::string tomb_seen_by_action;
    ASSERT_TRUE(spool.remove_message(oa.location, a, oa.location.header_bytes + 3, [&] {
        tomb_seen_by_action = slurp(spool.tombstone_path(1));
        ran = true;
    }));
    EXPECT_EQ(slurp(spool.tombstone_path(1)), a + "\n");
    EXPECT_FALSE(spool.removals_synced());
    EXPECT_FALSE(ran.load());  // not before the sync
    const uint64_t syncs = spool.stats().removal_syncs;
    ASSERT_TRUE(spool.sync_removals());
    EXPECT_TRUE(ran.load());
    EXPECT_EQ(tomb_seen_by_action, a + "\n");
    EXPECT_TRUE(spool.removals_synced());
    EXPECT_EQ(spool.stats().removal_syncs, syncs + 1);
    // Nothing new: a sync round does nothing and counts nothing.
    ASSERT_TRUE(spool.sync_removals());
    EXPECT_EQ(spool.stats().removal_syncs, syncs + 1);

    // sync_removals_soon: the removal syncer thread does it within kRemovalSyncDelay.
    std::promise<void> synced;
    ASSERT_TRUE(spool.remove_message(ob.location, b, ob.location.header_bytes + 3,
                                     [&] { synced.set_value(); }));
    EXPECT_EQ(slurp(spool.tombstone_path(1)), a + "\n" + b + "\n");
    EXPECT_FALSE(spool.removals_synced());
    spool.sync_removals_soon();
    ASSERT_EQ(synced.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    // The actions run inside the round, just before it records the removals as synced.
    for (int i = 0; i < 1000 && !spool.removals_synced(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(spool.removals_synced());
    EXPECT_EQ(spool.stats().removal_syncs, syncs + 2);
    EXPECT_EQ(spool.spool_bytes(), 0u);
    // Both files stay: segment 1 is still the active one.
    EXPECT_TRUE(fs::exists(spool.segment_path(1)));
}

TEST_F(FileSpoolTest, RemoveMessageRefusesAnInvalidId) {
    FileSpool spool({dir_, 0, false});
    CommitOutcome o = commit_sync(spool, spool.new_id(), "a\r\n");
    ASSERT_EQ(o.status, CommitStatus::Ok);
    std::string error;
    EXPECT_FALSE(spool.remove_message(o.location, "../../etc/passwd", 10, nullptr, &error));
    EXPECT_EQ(error, "invalid queue id");
    EXPECT_FALSE(spool.remove_message(o.location, "bad\nid", 10, nullptr));
    EXPECT_EQ(slurp(spool.tombstone_path(1)), "");  // made with the segment; nothing written
    EXPECT_TRUE(spool.removals_synced());
}

TEST_F(FileSpoolTest, InvalidIdIsRefusedAtCommit) {
    FileSpool spool({dir_, 0, false});
    CommitOutcome o = commit_sync(spool, "../escape", "x");
    EXPECT_EQ(o.status, CommitStatus::IoError);
    EXPECT_EQ(o.detail, "invalid queue id");
    EXPECT_FALSE(fs::exists(dir_ + "/spool/escape"));
    EXPECT_TRUE(names(seg_dir()).empty());  // no segment was even created
    EXPECT_EQ(spool.stats().failures, 1u);
    EXPECT_EQ(spool.stats().commits, 0u);
}

TEST_F(FileSpoolTest, DestructorFinishesPendingCommitsEvenWhilePaused) {
    std::atomic<int> calls{0}, ok{0};
    {
        FileSpool spool({dir_, 0, false});
        spool.pause_for_testing(true);
        for (int i = 0; i < 50; ++i) {
            spool.commit(spool.new_id(), envelope(), "m\r\n", [&](CommitOutcome o) {
                ok += o.status == CommitStatus::Ok;
                ++calls;
            });
        }
    }
    EXPECT_EQ(calls.load(), 50);
    EXPECT_EQ(ok.load(), 50);
    uint64_t records = 0;
    scan_segment(dir_ + "/spool/segments/0000000001.log", [&](ScannedRecord&&) { ++records; });
    EXPECT_EQ(records, 50u);
}

TEST_F(FileSpoolTest, WriteErrorCutsTheBatchOffAgain) {
    // RLIMIT_FSIZE makes the append fail half-way (EFBIG), like a disk filling up mid-message:
    // the partial record must be cut off the segment so nothing unacknowledged stays.
    FileSpool spool({dir_, 0, false});
    CommitOutcome first = commit_sync(spool, spool.new_id(), "small\r\n");
    ASSERT_EQ(first.status, CommitStatus::Ok);
    const uint64_t bytes = spool.spool_bytes();
    const uint64_t size = file_size(spool.segment_path(1));
    CommitOutcome o;
    testing::with_file_size_limit(4096, [&] {
        o = commit_sync(spool, spool.new_id(), std::string(20000, 'z'));
    });
    EXPECT_EQ(o.status, CommitStatus::IoError);
    EXPECT_FALSE(o.detail.empty());
    EXPECT_EQ(file_size(spool.segment_path(1)), size);  // cut back
    EXPECT_EQ(spool.spool_bytes(), bytes);
    EXPECT_EQ(spool.stats().failures, 1u);
    // The spool keeps working once the cause is gone, right behind the last good record.
    const std::string big(20000, 'z');
    CommitOutcome again = commit_sync(spool, spool.new_id(), big);
    ASSERT_EQ(again.status, CommitStatus::Ok) << again.detail;
    EXPECT_EQ(again.location.segment, 1u);
    EXPECT_EQ(again.location.offset, size);
    uint64_t records = 0;
    SegmentScan scan = scan_segment(spool.segment_path(1), [&](ScannedRecord&&) { ++records; });
    EXPECT_EQ(records, 2u);
    EXPECT_EQ(scan.stop_reason, "");
}

}  // namespace
}  // namespace petrel::queue
