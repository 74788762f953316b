// Unit tests for QueueManager::compact (docs/queue-format.md, "Compaction"): messages left in
// sparse segments move to the active one, byte for byte with their state, the old segments
// go, and a crash between a copy and its original's tombstone leaves exactly one message.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "unit/queue/queue_fixture.h"

namespace petrel::queue {
namespace {

using testing::QueueFixture;

class CompactionTest : public QueueFixture {
protected:
    void SetUp() override {
        segment_bytes_ = 4096;  // a few records per segment
        QueueFixture::SetUp();
    }
    static std::string body(int i) {
        return "Subject: m" + std::to_string(i) + "\r\n\r\n" + std::string(600, 'a' + i % 26) + "\r\n";
    }
    // How many live (not tombstoned) records each ID has on disk.
    std::map<std::string, int> live_copies() const {
        std::map<std::string, int> n;
        for (const DiskRecord& d : disk_records()) {
            if (!d.tombstoned) ++n[d.rec.entry.id];
        }
        return n;
    }
};

TEST_F(CompactionTest, SparseSegmentsAreMovedAndUnlinkedWithStateKept) {
    std::vector<std::string> ids;
    std::map<std::string, std::string> bodies;
    for (int i = 0; i < 16; ++i) {
        std::string id = commit(envelope({"a@one.test", "b@two.test"}), body(i));
        ASSERT_FALSE(id.empty());
        ids.push_back(id);
        bodies[id] = body(i);
    }
    // Which segment holds which message, as the spool wrote them.
    std::map<uint32_t, std::vector<std::string>> by_segment;
    for (const DiskRecord& d : disk_records()) by_segment[d.segment].push_back(d.rec.entry.id);
    ASSERT_GE(by_segment.size(), 3u) << "the small segment size should give several segments";
    const uint32_t last = by_segment.rbegin()->first;  // still the active one: never compacted
    // Keep the first message of every closed segment; remove the others. One kept message is
    // held and one has a delivered recipient: the state must move with the bytes.
    std::vector<std::string> kept;
    std::vector<uint32_t> closed;
    for (auto& [seg, list] : by_segment) {
        if (seg == last) continue;
        closed.push_back(seg);
        kept.push_back(list.front());
        for (size_t i = 1; i < list.size(); ++i) ASSERT_EQ(qm_->remove(list[i]), ControlResult::Ok);
    }
    ASSERT_EQ(qm_->hold(kept[0]), ControlResult::Ok);
    ASSERT_EQ(qm_->record_attempt(kept[1], {{0, RecipientState::Delivered, "250 ok"},
                                            {1, RecipientState::Pending, "451 later"}},
                                  1800000000000),
              ControlResult::Ok);
    // The others deferred for an hour: long-deferred mail is what keeps sparse segments.
    const int64_t in_an_hour = testing::now_ms() + 3600000;
    for (size_t i = 2; i < kept.size(); ++i) {
        ASSERT_EQ(qm_->record_attempt(kept[i], {{0, RecipientState::Pending, "451 later"},
                                                {1, RecipientState::Pending, "451 later"}},
                                      in_an_hour),
                  ControlResult::Ok);
    }

    // Dense segments are left alone: a message per closed segment is not 1 % of it.
    EXPECT_EQ(qm_->compact(1, 0).moved, 0u);
    CompactionStats st = qm_->compact(50, 0);
    EXPECT_EQ(st.segments, closed.size());
    EXPECT_EQ(st.moved, kept.size());
    EXPECT_EQ(st.failed, 0u);
    for (uint32_t seg : closed) {
        EXPECT_FALSE(exists(log_path(seg))) << seg;  // its last record moved: unlinked
        EXPECT_FALSE(exists(removed_path(seg))) << seg;
    }
    for (const std::string& id : kept) EXPECT_EQ(*qm_->message(id), bodies[id]) << id;
    EXPECT_EQ(qm_->info(kept[0])->state, MessageState::Held);
    auto moved_delivered = qm_->info(kept[1]);
    ASSERT_TRUE(moved_delivered);
    EXPECT_EQ(moved_delivered->recipients[0].state, RecipientState::Delivered);
    EXPECT_EQ(moved_delivered->recipients[1].last_error, "451 later");
    EXPECT_EQ(moved_delivered->next_attempt_ms, 1800000000000);
    // Nothing left to compact.
    EXPECT_EQ(qm_->compact(50, 0).moved, 0u);

    // After a restart: the same messages, once each, with their state.
    const uint64_t size = qm_->size();
    RecoveryStats rs = restart();
    EXPECT_EQ(rs.messages, size);
    EXPECT_EQ(rs.discarded, 0u);
    std::map<std::string, int> copies = live_copies();
    for (const std::string& id : kept) {
        EXPECT_EQ(copies[id], 1) << id;
        EXPECT_EQ(*qm_->message(id), bodies[id]) << id;
    }
    EXPECT_EQ(qm_->info(kept[0])->state, MessageState::Held);
    EXPECT_EQ(qm_->info(kept[1])->recipients[0].state, RecipientState::Delivered);
}

// A message due now may be in delivery's hands (read by path, later): it stays where it is,
// and its segment with it, until it is deferred or gone.
TEST_F(CompactionTest, DueMessagesAreNotMoved) {
    std::vector<std::string> ids;
    for (int i = 0; i < 12; ++i) ids.push_back(commit(envelope(), body(i)));
    std::map<uint32_t, std::vector<std::string>> by_segment;
    for (const DiskRecord& d : disk_records()) by_segment[d.segment].push_back(d.rec.entry.id);
    ASSERT_GE(by_segment.size(), 2u);
    const auto& [first_seg, list] = *by_segment.begin();
    for (size_t i = 1; i < list.size(); ++i) ASSERT_EQ(qm_->remove(list[i]), ControlResult::Ok);
    CompactionStats st = qm_->compact(50, 0);
    EXPECT_EQ(st.segments, 1u);
    EXPECT_EQ(st.moved, 0u);
    EXPECT_TRUE(exists(log_path(first_seg)));
    // Once it is deferred far enough, it moves.
    const int64_t later = testing::now_ms() + 3600000;
    ASSERT_EQ(qm_->record_attempt(list[0], {{0, RecipientState::Pending, "451 later"}}, later),
              ControlResult::Ok);
    EXPECT_EQ(qm_->compact(50, 0).moved, 1u);
    EXPECT_FALSE(exists(log_path(first_seg)));
    EXPECT_EQ(*qm_->message(list[0]), body(static_cast<int>(
        std::find(ids.begin(), ids.end(), list[0]) - ids.begin())));
}

TEST_F(CompactionTest, MinimumDeadBytesKeepsSmallSegmentsAlone) {
    for (int i = 0; i < 12; ++i) ASSERT_FALSE(commit(envelope(), body(i)).empty());
    std::map<uint32_t, std::vector<std::string>> by_segment;
    for (const DiskRecord& d : disk_records()) by_segment[d.segment].push_back(d.rec.entry.id);
    for (auto& [seg, list] : by_segment) {
        for (size_t i = 1; i < list.size(); ++i) ASSERT_EQ(qm_->remove(list[i]), ControlResult::Ok);
    }
    // A few KiB dead per segment is not worth a rewrite at the default floor (16 MiB).
    CompactionStats st = qm_->compact();
    EXPECT_EQ(st.segments, 0u);
    EXPECT_EQ(st.moved, 0u);
}

// The crash window: the copy is durable in a newer segment but the original's tombstone is not.
// Recovery keeps one copy (the older), tombstones the other in its own segment, and a later
// removal of the message is final: it does not come back from the other copy.
TEST_F(CompactionTest, TwoCopiesAfterACrashBecomeOne) {
    const std::string a = commit(envelope(), body(1));
    for (int i = 2; i < 12; ++i) ASSERT_FALSE(commit(envelope(), body(i)).empty());  // later segments
    ASSERT_EQ(qm_->hold(a), ControlResult::Ok);
    close();
    std::vector<DiskRecord> recs = disk_records();
    ASSERT_EQ(recs.front().rec.entry.id, a);
    const uint32_t newest = recs.back().segment;
    ASSERT_GT(newest, recs.front().segment);
    // Append a's record, byte for byte, to the newest segment (as compaction would have).
    const std::string first = slurp(log_path(recs.front().segment));
    const std::string record = first.substr(recs.front().rec.offset,
                                            recs.front().rec.header_bytes + recs.front().rec.entry.message_size);
    spit(log_path(newest), slurp(log_path(newest)) + record);

    RecoveryStats rs = reopen();
    EXPECT_EQ(rs.messages, 11u);
    EXPECT_EQ(rs.discarded, 0u);
    EXPECT_EQ(live_copies()[a], 1);
    EXPECT_EQ(qm_->info(a)->state, MessageState::Held);  // its journal stayed
    EXPECT_EQ(*qm_->message(a), body(1));
    rs = restart();
    EXPECT_EQ(rs.messages, 11u);
    EXPECT_EQ(live_copies()[a], 1);
    // Removed for good: neither copy returns.
    ASSERT_EQ(qm_->remove(a), ControlResult::Ok);
    restart();
    EXPECT_FALSE(qm_->info(a));
    EXPECT_EQ(live_copies()[a], 0);
    EXPECT_EQ(qm_->size(), 10u);
}

}  // namespace
}  // namespace petrel::queue
