// Unit tests for QueueManager::recover: state survives a restart, torn and corrupt files are
// discarded (and only they), damaged journals keep their good records, and a 20,000-message
// spool is recovered quickly with a small index.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "queue/codec.h"
#include "queue/spool_entry.h"
#include "queue/state_journal.h"
#include "unit/queue/queue_fixture.h"

namespace petrel::queue {
namespace {

using testing::QueueFixture;
using QueueRecoveryTest = QueueFixture;

// A valid queue ID that sorts with `i`.
std::string base_id(int i) {
    static const char* alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
    std::string id = "0000";
    for (int k = 9; k >= 0; --k) id += alphabet[(i >> (5 * k)) & 31];
    return id;
}

TEST_F(QueueRecoveryTest, StateSurvivesRestart) {
    std::string a = commit(envelope({"d@one.test", "p@two.test", "b@three.test"}));
    std::string h = commit();
    std::string plain = commit();
    const int64_t next = 1800000000123;
    ASSERT_EQ(qm_->record_attempt(a, {{0, RecipientState::Delivered, "250 2.0.0 ok"},
                                      {1, RecipientState::Pending, "451 4.4.1 timeout"},
                                      {2, RecipientState::Bounced, "550 5.1.1 unknown"}},
                                  next),
              ControlResult::Ok);
    ASSERT_EQ(qm_->record_attempt(a, {{1, RecipientState::Pending, "452 4.2.2 full"}}, next + 1),
              ControlResult::Ok);
    ASSERT_EQ(qm_->hold(h), ControlResult::Ok);
    const auto created = qm_->info(a)->created_ms;

    RecoveryStats st = restart();
    EXPECT_EQ(st.messages, 3u);
    EXPECT_EQ(st.discarded, 0u);
    EXPECT_EQ(qm_->size(), 3u);
    auto info = qm_->info(a);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->created_ms, created);
    EXPECT_EQ(info->attempts, 2u);
    EXPECT_EQ(info->next_attempt_ms, next + 1);
    EXPECT_EQ(info->recipients[0].state, RecipientState::Delivered);  // never delivered again
    EXPECT_EQ(info->recipients[1].state, RecipientState::Pending);
    EXPECT_EQ(info->recipients[1].attempts, 2u);
    EXPECT_EQ(info->recipients[1].last_error, "452 4.2.2 full");
    EXPECT_EQ(info->recipients[2].state, RecipientState::Bounced);
    EXPECT_EQ(info->last_error, "452 4.2.2 full");
    EXPECT_EQ(info->state, MessageState::Deferred);
    EXPECT_EQ(qm_->info(h)->state, MessageState::Held);
    EXPECT_EQ(qm_->due(next, 10), std::vector<std::string>{plain});  // held is never due
    EXPECT_EQ(qm_->due(next + 1, 10), (std::vector<std::string>{plain, a}));
    // And the state keeps moving after the restart.
    ASSERT_EQ(qm_->release(h), ControlResult::Ok);
    ASSERT_EQ(qm_->record_attempt(a, {{1, RecipientState::Delivered, "250 ok"}}, 0), ControlResult::Ok);
    EXPECT_FALSE(exists(queue_path(a)));
    st = restart();
    EXPECT_EQ(st.messages, 2u);
    EXPECT_EQ(qm_->info(h)->state, MessageState::Queued);
}

TEST_F(QueueRecoveryTest, TornAndCorruptMessageFilesAreDiscarded) {
    std::string good = commit();
    std::vector<std::string> bad;
    for (int i = 0; i < 6; ++i) bad.push_back(commit(envelope(), "Subject: x\r\n\r\nbody body\r\n"));
    for (const auto& id : bad) ASSERT_EQ(qm_->hold(id), ControlResult::Ok);  // journals too
    close();
    auto header_end = [](const std::string& f) { return f.find('\n', f.find("\ncrc ") + 1) + 1; };
    std::vector<std::string> files;
    for (const auto& id : bad) files.push_back(slurp(queue_path(id)));
    spit(queue_path(bad[0]), files[0].substr(0, files[0].size() - 3));   // truncated body
    spit(queue_path(bad[1]), files[1].substr(0, header_end(files[1])));  // missing body
    spit(queue_path(bad[2]), "");                                        // empty file
    spit(queue_path(bad[3]), files[3].substr(0, 40));                    // torn header
    files[4][files[4].find("listener") + 2] ^= 0x20;                     // bad header CRC
    spit(queue_path(bad[4]), files[4]);
    spit(queue_path(bad[5]), "garbage that is no spool file\n");         // missing header
    // tmp/ leftovers: never acknowledged.
    spit(dir_ + "/spool/tmp/" + good, "half a message");
    spit(dir_ + "/spool/tmp/unrelated", "x");

    RecoveryStats st = reopen();
    EXPECT_EQ(st.messages, 1u);
    EXPECT_EQ(st.discarded, 6u);
    EXPECT_EQ(st.removed_tmp, 2u);
    EXPECT_EQ(qm_->size(), 1u);
    EXPECT_TRUE(qm_->info(good));
    for (const auto& id : bad) {
        EXPECT_FALSE(exists(queue_path(id))) << id;
        EXPECT_FALSE(exists(journal_path(id))) << id;
        EXPECT_FALSE(qm_->info(id));
    }
    EXPECT_FALSE(exists(dir_ + "/spool/tmp/" + good));
    EXPECT_EQ(spool_->spool_bytes(), slurp(queue_path(good)).size());  // the quota is right
}

// The quota's count of stored bytes comes from recovery (file_spool.h): after a restart it must
// be what is on disk, or a full spool would take more mail (or an empty one refuse it).
TEST_F(QueueRecoveryTest, QuotaCountsRecoveredMessagesAfterRestart) {
    const std::string body(3000, 'q');
    std::string a = commit(envelope(), body);
    std::string b = commit(envelope(), body);
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    const uint64_t on_disk = slurp(queue_path(a)).size() + slurp(queue_path(b)).size();
    ASSERT_EQ(spool_->spool_bytes(), on_disk);
    // Room for the two and a bit, not for a third of the same size.
    max_spool_bytes_ = on_disk + 1000;
    RecoveryStats st = restart();
    EXPECT_EQ(st.messages, 2u);
    EXPECT_EQ(st.bytes, on_disk);
    EXPECT_EQ(spool_->spool_bytes(), on_disk);
    EXPECT_EQ(commit(envelope(), body), "");                  // over the quota: refused
    EXPECT_FALSE(commit(envelope(), "small\r\n").empty());   // under it: taken
    // Removing one gives its room back, as before the restart.
    ASSERT_EQ(qm_->remove(a), ControlResult::Ok);
    EXPECT_FALSE(commit(envelope(), body).empty());
}

TEST_F(QueueRecoveryTest, HeaderDifferentIdOrTrailingBytesAreDiscarded) {
    std::string a = commit();
    std::string b = commit();
    close();
    std::string fa = slurp(queue_path(a));
    spit(queue_path(a), fa + "extra");                 // longer than the header says
    std::filesystem::rename(queue_path(b), queue_path(b.substr(0, 13) + (b[13] == 'z' ? "y" : "z")));
    RecoveryStats st = reopen();
    EXPECT_EQ(st.messages, 0u);
    EXPECT_EQ(st.discarded, 2u);
}

TEST_F(QueueRecoveryTest, JournalTornLastLine) {
    std::string id = commit(envelope({"a@one.test", "b@two.test"}));
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Delivered, "250 ok"},
                                       {1, RecipientState::Pending, "451 later"}},
                                  1800000000000),
              ControlResult::Ok);
    close();
    // A crash in the middle of the next append: half a line that would have delivered b.
    JournalRecord next;
    next.attempts = 2;
    next.recipients = {{1, RecipientState::Delivered, 2, "250 ok"}};
    std::string line = format_journal_record(next);
    spit(journal_path(id), slurp(journal_path(id)) + line.substr(0, line.size() / 2));
    RecoveryStats st = reopen();
    EXPECT_EQ(st.messages, 1u);
    EXPECT_EQ(st.damaged_journals, 1u);
    auto info = qm_->info(id);
    EXPECT_EQ(info->recipients[0].state, RecipientState::Delivered);
    EXPECT_EQ(info->recipients[1].state, RecipientState::Pending);
    EXPECT_EQ(info->attempts, 1u);
    // The journal was rewritten clean: a later append is readable after the next restart.
    EXPECT_EQ(parse_journal(slurp(journal_path(id)), 2).damaged(), false);
    ASSERT_EQ(qm_->hold(id), ControlResult::Ok);
    st = restart();
    EXPECT_EQ(st.damaged_journals, 0u);
    EXPECT_EQ(qm_->info(id)->state, MessageState::Held);
    EXPECT_EQ(qm_->info(id)->recipients[0].state, RecipientState::Delivered);
}

TEST_F(QueueRecoveryTest, JournalGarbageInTheMiddle) {
    std::string id = commit(envelope({"a@one.test", "b@two.test"}));
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Pending, "451 first"}}, 100), ControlResult::Ok);
    ASSERT_EQ(qm_->hold(id), ControlResult::Ok);
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Delivered, "250 ok"}}, 200), ControlResult::Ok);
    close();
    std::string j = slurp(journal_path(id));
    size_t second = j.find('\n') + 1;
    j[second + 12] ^= 0x01;  // the hold record's CRC no longer matches
    j.insert(second, "\x01\x02 not a record at all\n");
    spit(journal_path(id), j);
    RecoveryStats st = reopen();
    EXPECT_EQ(st.messages, 1u);
    EXPECT_EQ(st.damaged_journals, 1u);
    auto info = qm_->info(id);
    // The good records on both sides of the damage still count; the lost one (hold) does not.
    EXPECT_EQ(info->recipients[0].state, RecipientState::Delivered);
    EXPECT_EQ(info->attempts, 2u);
    EXPECT_EQ(info->next_attempt_ms, 200);
    EXPECT_NE(info->state, MessageState::Held);
}

TEST_F(QueueRecoveryTest, JournalWithoutMessageAndFinishedMessagesAreRemoved) {
    std::string a = commit();
    std::string done = commit(envelope({"x@one.test", "y@one.test"}));
    ASSERT_EQ(qm_->record_attempt(done, {{0, RecipientState::Delivered, "250"}}, 0), ControlResult::Ok);
    close();
    // A journal whose message is gone (removal interrupted between the two unlinks).
    const std::string orphan = "01hq3v9x7k2m4a";
    JournalRecord h;
    h.kind = JournalRecord::Kind::Hold;
    h.held = true;
    spit(journal_path(orphan), format_journal_record(h));
    spit(journal_path(a) + ".tmp", "leftover of a compaction");
    // A finished message whose unlink did not survive: its journal says all done.
    JournalRecord fin;
    fin.attempts = 2;
    fin.recipients = {{1, RecipientState::Bounced, 1, "550"}};
    spit(journal_path(done), slurp(journal_path(done)) + format_journal_record(fin));
    RecoveryStats st = reopen();
    EXPECT_EQ(st.messages, 1u);
    EXPECT_EQ(st.discarded, 1u);
    EXPECT_EQ(st.finished, 1u);
    EXPECT_FALSE(exists(journal_path(orphan)));
    EXPECT_FALSE(exists(journal_path(a) + ".tmp"));
    EXPECT_FALSE(exists(queue_path(done)));
    EXPECT_FALSE(exists(journal_path(done)));
    EXPECT_TRUE(qm_->info(a));
}

TEST_F(QueueRecoveryTest, ReadsVersion1Files) {
    close();
    mail::Envelope e = envelope({"old@one.test"});
    const std::string id = "01hq3v9x7k2m4a", msg = "Subject: old\r\n\r\nv1\r\n";
    std::string h = serialize_spool_header(id, 1600000000000, e, {RecipientState::Pending}, msg.size());
    // The same header under version 1: first line changed, CRC recomputed.
    h.replace(0, h.find('\n'), "PETREL-SPOOL 1");
    size_t crc = h.find("crc ");
    std::string body = h.substr(0, crc);
    h = body + "crc " + crc32_hex(body) + "\n";
    spit(queue_path(id), h + msg);
    RecoveryStats st = reopen();
    EXPECT_EQ(st.messages, 1u);
    EXPECT_EQ(*qm_->message(id), msg);
    EXPECT_EQ(qm_->info(id)->created_ms, 1600000000000);
}

TEST_F(QueueRecoveryTest, TwentyThousandMessages) {
    close();
    // On tmpfs when there is one: creating 20,000 files on a busy ext4 takes longer than the
    // recovery this measures (docs/queue-format.md has the ext4 figures).
    char shm[] = "/dev/shm/petrel-qm-test-XXXXXX";
    if (::access("/dev/shm", W_OK) == 0 && mkdtemp(shm) != nullptr) {
        std::filesystem::remove_all(dir_);
        dir_ = shm;
        open();
        close();
    }
    // Written directly (no fsync): this measures recovery, not commits.
    // PETREL_RECOVERY_COUNT scales it up by hand for measurements (docs/queue-format.md).
    const char* env = std::getenv("PETREL_RECOVERY_COUNT");
    const int kCount = env ? std::atoi(env) : 20000;
    mail::Envelope e = envelope({"someone@example.test"});
    const std::string msg(600, 'x');
    std::vector<std::string> ids;
    for (int i = 0; i < kCount; ++i) {
        std::string id = base_id(i);
        std::string h = serialize_spool_header(id, 1700000000000 + i, e, {RecipientState::Pending}, msg.size());
        spit(queue_path(id), h + msg);
        if (i % 10 == 0) {  // every tenth has a state journal
            JournalRecord r;
            r.attempts = 1;
            r.next_attempt_ms = 1800000000000;
            r.recipients = {{0, RecipientState::Pending, 1, "451 4.4.1 no answer"}};
            spit(journal_path(id), format_journal_record(r));
        }
    }
    const auto t_open = std::chrono::steady_clock::now();
    open();  // the spool counts its bytes here: part of a restart too
    const auto open_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - t_open).count();
    const size_t heap_before = mallinfo2().uordblks;
    RecoveryStats st = qm_->recover();
    const size_t heap_after = mallinfo2().uordblks;
    EXPECT_EQ(st.messages, static_cast<uint64_t>(kCount));
    EXPECT_EQ(st.discarded, 0u);
    EXPECT_EQ(qm_->size(), static_cast<uint64_t>(kCount));
    EXPECT_EQ(qm_->due(1700000000000, kCount * 2).size(), static_cast<size_t>(kCount - kCount / 10));
    const double per_message = static_cast<double>(heap_after - heap_before) / kCount;
    std::printf("[ recovery ] %d messages in %lld ms (+%lld ms opening the spool), index heap %.0f "
                "bytes/message\n",
                kCount, static_cast<long long>(st.elapsed_ms), static_cast<long long>(open_ms),
                per_message);
    const int64_t limit_ms = std::max<int64_t>(5000, kCount * 60LL / 1000);  // 60 s per million
    EXPECT_LT(per_message, 300.0);
    EXPECT_LT(st.elapsed_ms, limit_ms);
    // Again, as after a restart of a daemon whose spool is in the page cache.
    close();
    open();
    rusage r0{}, r1{};
    getrusage(RUSAGE_SELF, &r0);
    RecoveryStats again = qm_->recover();
    getrusage(RUSAGE_SELF, &r1);
    auto us = [](const timeval& a, const timeval& b) {
        return (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_usec - a.tv_usec);
    };
    EXPECT_EQ(again.messages, static_cast<uint64_t>(kCount));
    std::printf("[ recovery ] again: %lld ms wall, %lld ms user + %lld ms system CPU\n",
                static_cast<long long>(again.elapsed_ms), us(r0.ru_utime, r1.ru_utime) / 1000,
                us(r0.ru_stime, r1.ru_stime) / 1000);
    EXPECT_LT(again.elapsed_ms, limit_ms);
}

}  // namespace
}  // namespace petrel::queue
