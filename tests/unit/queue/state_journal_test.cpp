// Unit tests for queue/state_journal: record round trip, torn and corrupt lines, replay and
// compaction, and the file operations (append, read, rewrite).
#include <gtest/gtest.h>

#include <filesystem>

#include "queue/state_journal.h"

namespace petrel::queue {
namespace {

JournalRecord attempt(uint32_t attempts, int64_t next, std::vector<RecipientRecord> rcpts) {
    JournalRecord r;
    r.kind = JournalRecord::Kind::Attempt;
    r.time_ms = 1700000000000;
    r.attempts = attempts;
    r.next_attempt_ms = next;
    r.recipients = std::move(rcpts);
    return r;
}

JournalRecord hold(bool on) {
    JournalRecord r;
    r.kind = JournalRecord::Kind::Hold;
    r.time_ms = 1700000000001;
    r.held = on;
    return r;
}

TEST(StateJournal, RecordsRoundTrip) {
    const std::vector<JournalRecord> in = {
        attempt(1, 1700000900000,
                {{0, RecipientState::Delivered, 1, "250 2.0.0 ok"},
                 {2, RecipientState::Pending, 1, "450 4.2.0 busy, 100% \"full\"\r\n"},
                 {1, RecipientState::Bounced, 3, ""}}),
        hold(true),
        hold(false),
        attempt(2, 0, {}),
    };
    std::string bytes;
    for (const auto& r : in) bytes += format_journal_record(r);
    EXPECT_EQ(std::count(bytes.begin(), bytes.end(), '\n'), 4);  // one line per record
    JournalParse p = parse_journal(bytes, 3);
    EXPECT_FALSE(p.damaged());
    ASSERT_EQ(p.records.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        EXPECT_EQ(p.records[i].kind, in[i].kind);
        EXPECT_EQ(p.records[i].time_ms, in[i].time_ms);
        EXPECT_EQ(p.records[i].attempts, in[i].attempts);
        EXPECT_EQ(p.records[i].next_attempt_ms, in[i].next_attempt_ms);
        EXPECT_EQ(p.records[i].held, in[i].held);
        ASSERT_EQ(p.records[i].recipients.size(), in[i].recipients.size());
        for (size_t k = 0; k < in[i].recipients.size(); ++k) {
            EXPECT_EQ(p.records[i].recipients[k].index, in[i].recipients[k].index);
            EXPECT_EQ(p.records[i].recipients[k].state, in[i].recipients[k].state);
            EXPECT_EQ(p.records[i].recipients[k].attempts, in[i].recipients[k].attempts);
            EXPECT_EQ(p.records[i].recipients[k].reply, in[i].recipients[k].reply);
        }
    }
}

TEST(StateJournal, LongReplyIsCut) {
    std::string bytes = format_journal_record(
        attempt(1, 5, {{0, RecipientState::Pending, 1, std::string(5000, 'x')}}));
    JournalParse p = parse_journal(bytes, 1);
    ASSERT_EQ(p.records.size(), 1u);
    EXPECT_EQ(p.records[0].recipients[0].reply.size(), StateJournal::kMaxReply);
}

TEST(StateJournal, TornLastLineIsIgnored) {
    std::string a = format_journal_record(hold(true));
    std::string b = format_journal_record(attempt(1, 7, {{0, RecipientState::Delivered, 1, "ok"}}));
    for (size_t cut = 0; cut < b.size(); ++cut) {  // every possible tear of the last append
        JournalParse p = parse_journal(a + b.substr(0, cut), 1);
        ASSERT_EQ(p.records.size(), 1u) << "cut " << cut;
        EXPECT_EQ(p.records[0].kind, JournalRecord::Kind::Hold);
        EXPECT_EQ(p.torn_tail, cut != 0);
        EXPECT_EQ(p.bad_lines, 0u);
    }
}

TEST(StateJournal, GarbageLinesAreSkippedAndCounted) {
    std::string a = format_journal_record(attempt(1, 7, {{0, RecipientState::Pending, 1, "450 x"}}));
    std::string b = format_journal_record(attempt(2, 9, {{0, RecipientState::Delivered, 2, "250 y"}}));
    std::string flipped = a;
    flipped[20] ^= 0x04;  // same length, wrong CRC
    for (const std::string& garbage : {std::string("garbage\n"), flipped, std::string("\n"),
                                       std::string("00000000 hold 1 1\n")}) {
        JournalParse p = parse_journal(a + garbage + b, 1);
        EXPECT_EQ(p.bad_lines, 1u) << garbage;
        ASSERT_EQ(p.records.size(), 2u);
        MessageProgress m = initial_progress({RecipientState::Pending});
        for (const auto& r : p.records) apply_journal_record(r, m);
        EXPECT_EQ(m.recipients[0].state, RecipientState::Delivered);
        EXPECT_EQ(m.attempts, 2u);
    }
}

TEST(StateJournal, RecipientIndexOutOfRangeIsBad) {
    std::string bytes = format_journal_record(attempt(1, 7, {{3, RecipientState::Delivered, 1, ""}}));
    EXPECT_EQ(parse_journal(bytes, 4).records.size(), 1u);
    JournalParse p = parse_journal(bytes, 3);
    EXPECT_EQ(p.records.size(), 0u);
    EXPECT_EQ(p.bad_lines, 1u);
}

TEST(StateJournal, ReplayAndSnapshotAgree) {
    MessageProgress m = initial_progress({RecipientState::Pending, RecipientState::Pending,
                                          RecipientState::Pending});
    apply_journal_record(attempt(1, 100, {{0, RecipientState::Delivered, 1, "250 ok"},
                                          {1, RecipientState::Pending, 1, "451 later"},
                                          {2, RecipientState::Pending, 1, "452 full"}}),
                         m);
    apply_journal_record(hold(true), m);
    apply_journal_record(attempt(2, 200, {{2, RecipientState::Bounced, 2, "550 no such user"}}), m);
    EXPECT_EQ(m.attempts, 2u);
    EXPECT_EQ(m.next_attempt_ms, 200);
    EXPECT_TRUE(m.held);
    EXPECT_EQ(m.last_error, "550 no such user");
    EXPECT_EQ(m.recipients[1].reply, "451 later");

    MessageProgress again = initial_progress({RecipientState::Pending, RecipientState::Pending,
                                              RecipientState::Pending});
    std::string bytes;
    for (const auto& r : snapshot_records(m, 5)) bytes += format_journal_record(r);
    for (const auto& r : parse_journal(bytes, 3).records) apply_journal_record(r, again);
    EXPECT_EQ(again.attempts, m.attempts);
    EXPECT_EQ(again.next_attempt_ms, m.next_attempt_ms);
    EXPECT_EQ(again.held, m.held);
    EXPECT_EQ(again.last_error, m.last_error);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(again.recipients[i].state, m.recipients[i].state);
        EXPECT_EQ(again.recipients[i].attempts, m.recipients[i].attempts);
        EXPECT_EQ(again.recipients[i].reply, m.recipients[i].reply);
    }
}

TEST(StateJournal, FileAppendReadRewrite) {
    char tmpl[] = "/tmp/petrel-journal-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = std::string(tmpl) + "/state";
    {
        StateJournal j(dir);
        const std::string id = "01hq3v9x7k2m4a";
        EXPECT_FALSE(j.read(id).has_value());
        std::string error;
        ASSERT_TRUE(j.append(id, hold(true), error)) << error;
        ASSERT_TRUE(j.append(id, attempt(1, 9, {{0, RecipientState::Pending, 1, "451"}}), error));
        auto bytes = j.read(id);
        ASSERT_TRUE(bytes.has_value());
        EXPECT_EQ(parse_journal(*bytes, 1).records.size(), 2u);
        ASSERT_TRUE(j.rewrite(id, {hold(false)}, error)) << error;
        JournalParse p = parse_journal(*j.read(id), 1);
        ASSERT_EQ(p.records.size(), 1u);
        EXPECT_FALSE(p.records[0].held);
        EXPECT_EQ(j.list(), std::vector<std::string>{id});  // no temporary left behind
        EXPECT_TRUE(j.remove(id));
        EXPECT_TRUE(j.remove(id));  // already gone is fine
        EXPECT_TRUE(j.list().empty());
    }
    std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace petrel::queue
