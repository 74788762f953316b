// Unit tests for the queue's delivery path (queue_manager.h): the one-read `delivery_entry`,
// removals whose tombstone sync is shared (FileSpool::sync_removals_soon), a journal unlinked
// only after its message's tombstone is durable, no journal touched for a message that never
// had one, and the journaled delay warning ("warned"
// record, docs/queue-format.md) surviving a restart; old journals without it stay readable.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "queue/state_journal.h"
#include "queue_fixture.h"

namespace petrel::queue::testing {
namespace {

using QueueDeliveryPathTest = QueueFixture;

TEST_F(QueueDeliveryPathTest, DeliveryEntryCarriesStatesAttemptsAndSmallMessageBytes) {
    const std::string msg = "Subject: t\r\n\r\nhello\r\n";
    std::string id = commit(envelope({"a@one.test", "b@two.test"}), msg);
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Delivered, "250 ok"}}, 0), ControlResult::Ok);
    auto de = qm_->delivery_entry(id, 32 * 1024);
    ASSERT_TRUE(de);
    EXPECT_EQ(de->entry.states[0], RecipientState::Delivered);
    EXPECT_EQ(de->entry.states[1], RecipientState::Pending);
    EXPECT_EQ(de->attempts, 1u);
    EXPECT_FALSE(de->delay_warned);
    ASSERT_TRUE(de->message);
    EXPECT_EQ(*de->message, msg);
    // A record above the limit comes without its bytes (SpoolSource streams it).
    auto big = qm_->delivery_entry(id, 16);
    ASSERT_TRUE(big);
    EXPECT_FALSE(big->message);
    EXPECT_EQ(big->entry.message_size, msg.size());
    EXPECT_FALSE(qm_->delivery_entry("00000000000000", 1024));
}

TEST_F(QueueDeliveryPathTest, FinishedMessageIsRemovedAndItsRemovalSyncedSoon) {
    std::string id = commit();
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Delivered, "250 ok"}}, 0), ControlResult::Ok);
    EXPECT_FALSE(stored(id));  // its tombstone is written at once
    EXPECT_EQ(qm_->size(), 0u);
    // The removal syncer makes it durable with one sync round of its own.
    ASSERT_TRUE(eventually([&] { return spool_->removals_synced(); }));
    EXPECT_EQ(spool_->stats().removal_syncs, 1u);
    // No journal was ever created for it (and none was looked for).
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/spool/state/" + id));
}

TEST_F(QueueDeliveryPathTest, ManyRemovalsShareTombstoneSyncs) {
    std::vector<std::string> ids;
    for (int i = 0; i < 50; ++i) ids.push_back(commit());
    const uint64_t before = spool_->stats().removal_syncs;
    for (const std::string& id : ids) {
        ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Delivered, "250"}}, 0), ControlResult::Ok);
    }
    ASSERT_TRUE(eventually([&] { return spool_->removals_synced(); }));
    // 50 removals, far fewer sync rounds (one per kRemovalSyncDelay at most here).
    EXPECT_LE(spool_->stats().removal_syncs - before, 5u);
    EXPECT_GE(spool_->stats().removal_syncs - before, 1u);
    EXPECT_EQ(read_tombstones(removed_path(1), false).size(), 50u);
    EXPECT_EQ(spool_->spool_bytes(), 0u);
}

TEST_F(QueueDeliveryPathTest, RemovalWithAJournalRemovesTheJournal) {
    std::string id = commit();
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Pending, "451 later"}}, 1), ControlResult::Ok);
    ASSERT_TRUE(std::filesystem::exists(dir_ + "/spool/state/" + id));
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Delivered, "250"}}, 0), ControlResult::Ok);
    const bool journal_right_after = std::filesystem::exists(dir_ + "/spool/state/" + id);
    const bool synced_right_after = spool_->removals_synced();
    // The removal syncer waits kRemovalSyncDelay after record_attempt asked it: if we looked
    // sooner than that, the tombstone cannot be durable yet, so the journal must still be there
    // (a crash now would bring the message back and it needs its journal).
    if (std::chrono::steady_clock::now() - t0 < FileSpool::kRemovalSyncDelay / 2) {
        EXPECT_TRUE(journal_right_after);
        EXPECT_FALSE(synced_right_after);
    }
    EXPECT_FALSE(stored(id));
    ASSERT_TRUE(eventually([&] { return spool_->removals_synced(); }));
    EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(dir_ + "/spool/state/" + id); }));
}

TEST_F(QueueDeliveryPathTest, DelayWarningIsJournaledAndSurvivesARestart) {
    std::string id = commit();
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Pending, "451 later"}}, 1, true),
              ControlResult::Ok);
    EXPECT_TRUE(qm_->delivery_entry(id, 0)->delay_warned);
    // A later attempt without a warning keeps the flag; no second "warned" line.
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Pending, "451 later"}}, 2, true),
              ControlResult::Ok);
    restart();
    auto de = qm_->delivery_entry(id, 0);
    ASSERT_TRUE(de);
    EXPECT_TRUE(de->delay_warned);
    EXPECT_EQ(de->attempts, 2u);
    const std::string journal = slurp(dir_ + "/spool/state/" + id);
    JournalParse jp = parse_journal(journal, 1);
    EXPECT_FALSE(jp.damaged());
    size_t warned = 0;
    for (const JournalRecord& r : jp.records) warned += r.kind == JournalRecord::Kind::DelayWarned;
    EXPECT_EQ(warned, 1u);
}

TEST_F(QueueDeliveryPathTest, JournalWithoutWarnedRecordReadsAsNotWarned) {
    std::string id = commit();
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Pending, "451 later"}}, 1), ControlResult::Ok);
    restart();
    EXPECT_FALSE(qm_->delivery_entry(id, 0)->delay_warned);
}

TEST(StateJournalWarned, RoundTripAndSnapshot) {
    JournalRecord w;
    w.kind = JournalRecord::Kind::DelayWarned;
    w.time_ms = 1700000000123;
    const std::string line = format_journal_record(w);
    EXPECT_NE(line.find(" warned 1700000000123\n"), std::string::npos) << line;
    JournalParse jp = parse_journal(line, 1);
    ASSERT_EQ(jp.records.size(), 1u);
    EXPECT_EQ(jp.records[0].kind, JournalRecord::Kind::DelayWarned);
    MessageProgress p = initial_progress({RecipientState::Pending});
    apply_journal_record(jp.records[0], p);
    EXPECT_TRUE(p.delay_warned);
    // A compacted journal keeps the flag.
    MessageProgress q = initial_progress({RecipientState::Pending});
    for (const JournalRecord& r : snapshot_records(p, 5)) apply_journal_record(r, q);
    EXPECT_TRUE(q.delay_warned);
    // Extra fields make the line bad.
    EXPECT_EQ(parse_journal("00000000 warned 1 2\n", 1).bad_lines, 1u);
}

}  // namespace
}  // namespace petrel::queue::testing
