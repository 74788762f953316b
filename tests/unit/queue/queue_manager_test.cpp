// Unit tests for queue::QueueManager at run time: commit into the index, list paging and
// filters, hold/release/remove/flush, due() ordering, record_attempt, capture mode.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "unit/queue/queue_fixture.h"

namespace petrel::queue {
namespace {

using testing::QueueFixture;
using QueueManagerTest = QueueFixture;

constexpr int64_t kFar = 4102444800000;  // 2100-01-01: "not yet"

TEST_F(QueueManagerTest, CommitEntersIndexBeforeDone) {
    std::string id = qm_->new_id();
    std::promise<std::pair<bool, uint64_t>> seen;
    qm_->commit(id, envelope(), "Subject: x\r\n\r\nbody\r\n", [&](CommitOutcome o) {
        // At the moment the session may reply 250, the message is already listed.
        seen.set_value({o.status == CommitStatus::Ok && qm_->info(id).has_value(), qm_->size()});
    });
    auto [ok, size] = seen.get_future().get();
    EXPECT_TRUE(ok);
    EXPECT_EQ(size, 1u);
    auto info = qm_->info(id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->sender, "sender@client.test");
    ASSERT_EQ(info->recipients.size(), 1u);
    EXPECT_EQ(info->recipients[0].address, "alice@example.test");
    EXPECT_EQ(info->recipients[0].state, RecipientState::Pending);
    EXPECT_EQ(info->state, MessageState::Queued);
    EXPECT_EQ(info->size, std::string("Subject: x\r\n\r\nbody\r\n").size());
    EXPECT_EQ(*qm_->message(id), "Subject: x\r\n\r\nbody\r\n");
    EXPECT_EQ(qm_->entry(id)->envelope.recipients[0].mailbox.local, "alice");
    EXPECT_EQ(qm_->due(0, 10), std::vector<std::string>{id});
}

TEST_F(QueueManagerTest, OnDueFiresForCommits) {
    std::atomic<int> calls{0};
    qm_->on_due([&] { ++calls; });
    commit();
    commit();
    EXPECT_EQ(calls.load(), 2);
}

TEST_F(QueueManagerTest, BadIdsAreInvalidUnknownAreNotFound) {
    for (const std::string bad : {"", "../../etc/pass", "01HQ3V9X7K2M4A", "01hq3v9x7k2m4"}) {
        EXPECT_EQ(qm_->hold(bad), ControlResult::Invalid) << bad;
        EXPECT_EQ(qm_->release(bad), ControlResult::Invalid);
        EXPECT_EQ(qm_->remove(bad), ControlResult::Invalid);
        EXPECT_EQ(qm_->record_attempt(bad, {}, 0), ControlResult::Invalid);
        EXPECT_FALSE(qm_->info(bad));
        EXPECT_FALSE(qm_->entry(bad));
        EXPECT_FALSE(qm_->message(bad));
    }
    const std::string unknown = "01hq3v9x7k2m4a";
    EXPECT_EQ(qm_->hold(unknown), ControlResult::NotFound);
    EXPECT_EQ(qm_->release(unknown), ControlResult::NotFound);
    EXPECT_EQ(qm_->remove(unknown), ControlResult::NotFound);
    EXPECT_EQ(qm_->record_attempt(unknown, {}, 0), ControlResult::NotFound);
    EXPECT_EQ(qm_->flush(unknown), 0u);
}

TEST_F(QueueManagerTest, ListPagesById) {
    std::vector<std::string> ids;
    for (int i = 0; i < 25; ++i) {
        std::string rcpt = "u";
        rcpt += std::to_string(i);
        rcpt += "@example.test";
        ids.push_back(commit(envelope({rcpt})));
    }
    ListQuery q;
    q.limit = 10;
    std::vector<std::string> seen;
    int pages = 0;
    while (true) {
        ListPage page = qm_->list(q);
        EXPECT_EQ(page.total, 25u);
        ++pages;
        for (const auto& m : page.messages) {
            seen.push_back(m.id);
            EXPECT_EQ(m.sender, "sender@client.test");
            ASSERT_EQ(m.recipients.size(), 1u);
        }
        if (page.next_after.empty()) break;
        EXPECT_EQ(page.next_after, page.messages.back().id);
        q.after_id = page.next_after;
        ASSERT_LT(pages, 10);
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, ids);  // every message once, by ID (= commit order)
    // A page that ends exactly at the last message says so.
    q.after_id = ids[14];
    q.limit = 10;
    ListPage last = qm_->list(q);
    EXPECT_EQ(last.messages.size(), 10u);
    EXPECT_EQ(last.next_after, "");
    // limit 0: only the count.
    q.limit = 0;
    ListPage none = qm_->list(q);
    EXPECT_TRUE(none.messages.empty());
    EXPECT_EQ(none.total, 25u);
    // An after_id that is no queue ID still pages by string order.
    q = ListQuery{};
    q.after_id = ids[9].substr(0, 13) + "~";  // just past ids[9], whatever its last character
    EXPECT_EQ(qm_->list(q).messages.front().id, ids[10]);
}

TEST_F(QueueManagerTest, ListFiltersByDomainAndState) {
    std::string a = commit(envelope({"x@one.test", "y@two.test"}));
    std::string b = commit(envelope({"z@two.test"}));
    std::string c = commit(envelope({"w@three.test"}));
    ASSERT_EQ(qm_->hold(b), ControlResult::Ok);
    ListQuery q;
    q.recipient_domain = "TWO.test";
    ListPage page = qm_->list(q);
    ASSERT_EQ(page.messages.size(), 2u);
    EXPECT_EQ(page.messages[0].id, a);
    EXPECT_EQ(page.messages[1].id, b);
    EXPECT_EQ(page.total, 3u);
    q.recipient_domain = "nowhere.test";
    EXPECT_TRUE(qm_->list(q).messages.empty());
    q.recipient_domain = "";
    q.state = MessageState::Held;
    page = qm_->list(q);
    ASSERT_EQ(page.messages.size(), 1u);
    EXPECT_EQ(page.messages[0].id, b);
    q.state = MessageState::Queued;
    EXPECT_EQ(qm_->list(q).messages.size(), 2u);
    (void)c;
}

TEST_F(QueueManagerTest, HoldReleaseExcludeFromDue) {
    std::string a = commit();
    std::string b = commit();
    EXPECT_EQ(qm_->hold(a), ControlResult::Ok);
    EXPECT_EQ(qm_->hold(a), ControlResult::Ok);  // idempotent
    EXPECT_EQ(qm_->info(a)->state, MessageState::Held);
    EXPECT_EQ(qm_->due(kFar, 10), std::vector<std::string>{b});
    EXPECT_EQ(qm_->flush(a), 0u);  // held wins over flush
    EXPECT_EQ(qm_->flush(""), 1u);
    EXPECT_TRUE(exists(journal_path(a)));  // the hold is durable
    std::atomic<int> woken{0};
    qm_->on_due([&] { ++woken; });
    EXPECT_EQ(qm_->release(a), ControlResult::Ok);
    EXPECT_EQ(woken.load(), 1);
    EXPECT_EQ(qm_->due(kFar, 10), (std::vector<std::string>{a, b}));
    EXPECT_EQ(qm_->info(a)->state, MessageState::Queued);
}

TEST_F(QueueManagerTest, RemoveDeletesFilesAndEntry) {
    std::string a = commit();
    ASSERT_EQ(qm_->hold(a), ControlResult::Ok);  // so that a journal exists too
    uint64_t before = spool_->spool_bytes();
    EXPECT_GT(before, 0u);
    EXPECT_EQ(qm_->remove(a), ControlResult::Ok);
    EXPECT_FALSE(stored(a));  // tombstoned
    EXPECT_EQ(read_tombstones(removed_path(1), false), std::vector<std::string>{a});
    // The operator is answered after the tombstone sync, and the journal goes after it.
    EXPECT_TRUE(spool_->removals_synced());
    EXPECT_FALSE(exists(journal_path(a)));
    EXPECT_EQ(spool_->spool_bytes(), 0u);  // the quota gets the space back
    EXPECT_EQ(qm_->size(), 0u);
    EXPECT_EQ(qm_->remove(a), ControlResult::NotFound);
    EXPECT_FALSE(qm_->info(a));
}

TEST_F(QueueManagerTest, RemoveByRecipientDomain) {
    std::string a = commit(envelope({"x@one.test", "y@two.test"}));
    std::string b = commit(envelope({"z@two.test"}));
    std::string c = commit(envelope({"w@three.test"}));
    EXPECT_EQ(qm_->remove_by_recipient_domain("Two.Test"), 2u);
    EXPECT_EQ(qm_->remove_by_recipient_domain("two.test"), 0u);
    EXPECT_EQ(qm_->remove_by_recipient_domain("unknown.test"), 0u);
    EXPECT_EQ(qm_->size(), 1u);
    EXPECT_TRUE(qm_->info(c));
    EXPECT_FALSE(stored(a));
    EXPECT_FALSE(stored(b));
    EXPECT_TRUE(stored(c));
    EXPECT_TRUE(spool_->removals_synced());  // one sync for the whole delete
    EXPECT_EQ(restart().messages, 1u);
}

TEST_F(QueueManagerTest, DueOrderAndDeferral) {
    std::string a = commit();
    std::string b = commit();
    std::string c = commit();
    const int64_t t = 1800000000000;
    // a is deferred to t+100, b to t+50; c was never tried (0): c, then b, then a.
    ASSERT_EQ(qm_->record_attempt(a, {{0, RecipientState::Pending, "451 4.3.0 later"}}, t + 100),
              ControlResult::Ok);
    ASSERT_EQ(qm_->record_attempt(b, {{0, RecipientState::Pending, "421 busy"}}, t + 50),
              ControlResult::Ok);
    EXPECT_EQ(qm_->due(t, 10), std::vector<std::string>{c});
    EXPECT_EQ(qm_->due(t + 50, 10), (std::vector<std::string>{c, b}));
    EXPECT_EQ(qm_->due(t + 100, 10), (std::vector<std::string>{c, b, a}));
    EXPECT_EQ(qm_->due(t + 100, 2), (std::vector<std::string>{c, b}));
    auto info = qm_->info(a);
    EXPECT_EQ(info->attempts, 1u);
    EXPECT_EQ(info->next_attempt_ms, t + 100);
    EXPECT_EQ(info->last_error, "451 4.3.0 later");
    EXPECT_EQ(info->recipients[0].attempts, 1u);
    EXPECT_EQ(info->recipients[0].last_error, "451 4.3.0 later");
    EXPECT_EQ(qm_->flush(a), 1u);
    EXPECT_EQ(qm_->due(t, 10), (std::vector<std::string>{a, c}));  // 0 sorts first, then by ID
}

TEST_F(QueueManagerTest, RecordAttemptFinishesAndRemoves) {
    std::string id = commit(envelope({"a@one.test", "b@two.test"}));
    EXPECT_EQ(qm_->record_attempt(id, {{5, RecipientState::Delivered, ""}}, 0), ControlResult::Invalid);
    EXPECT_EQ(qm_->record_attempt(id, {{0, RecipientState::Captured, ""}}, 0), ControlResult::Invalid);
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Delivered, "250 ok"},
                                       {1, RecipientState::Pending, "452 full"}},
                                  1800000000000),
              ControlResult::Ok);
    EXPECT_TRUE(stored(id));
    EXPECT_TRUE(exists(journal_path(id)));
    auto e = qm_->entry(id);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->states, (std::vector<RecipientState>{RecipientState::Delivered, RecipientState::Pending}));
    // A repeated report for a delivered recipient changes nothing; the last one finishes it.
    ASSERT_EQ(qm_->record_attempt(id, {{0, RecipientState::Bounced, "550"},
                                       {1, RecipientState::Bounced, "550 5.1.1 no such user"}},
                                  0),
              ControlResult::Ok);
    EXPECT_FALSE(stored(id));
    // The journal goes once the tombstone is durable (the removal syncer, shortly; its
    // after-sync actions run before it reports the round synced).
    ASSERT_TRUE(eventually([&] { return spool_->removals_synced(); }));
    EXPECT_FALSE(exists(journal_path(id)));
    EXPECT_EQ(qm_->size(), 0u);
    EXPECT_EQ(spool_->spool_bytes(), 0u);
    EXPECT_TRUE(qm_->due(kFar, 10).empty());
}

TEST_F(QueueManagerTest, CaptureModeIsNeverDue) {
    close();
    open(/*capture=*/true);
    std::string id = commit(envelope({"a@one.test", "b@two.test"}));
    auto info = qm_->info(id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->state, MessageState::Captured);
    EXPECT_EQ(info->recipients[0].state, RecipientState::Captured);
    EXPECT_TRUE(qm_->due(kFar, 10).empty());
    EXPECT_EQ(qm_->flush(""), 0u);
    ListQuery q;
    q.state = MessageState::Captured;
    EXPECT_EQ(qm_->list(q).messages.size(), 1u);
    // Captured survives a restart, whatever the mode is then.
    restart(/*capture=*/false);
    EXPECT_EQ(qm_->info(id)->state, MessageState::Captured);
}

TEST_F(QueueManagerTest, OnlyPetrelsOwnDsnIsBounce) {
    mail::Envelope dsn = envelope({"a@one.test"}, "");
    dsn.facts.listener = std::string(kBounceListener);
    std::string own = commit(dsn);
    std::string foreign = commit(envelope({"a@one.test"}, ""));  // "<>" received over SMTP
    EXPECT_TRUE(qm_->info(own)->is_bounce);
    EXPECT_EQ(qm_->info(own)->sender, "");
    EXPECT_FALSE(qm_->info(foreign)->is_bounce);
    restart();
    EXPECT_TRUE(qm_->info(own)->is_bounce);
    EXPECT_FALSE(qm_->info(foreign)->is_bounce);
}

// Changes from several threads at once (commits, holds, attempts, listing) leave the index and
// the disk in agreement: a restart recovers exactly what the running queue showed.
TEST_F(QueueManagerTest, ConcurrentChangesAgreeWithRecovery) {
    std::vector<std::string> ids;
    for (int i = 0; i < 40; ++i) ids.push_back(commit(envelope({"a@one.test", "b@two.test"})));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 40; ++i) {
                const std::string& id = ids[(i * 7 + t * 13) % ids.size()];
                ControlResult r = ControlResult::Ok;
                switch ((i + t) % 4) {
                    case 0: r = qm_->hold(id); break;
                    case 1: r = qm_->release(id); break;
                    case 2:
                        r = qm_->record_attempt(id, {{static_cast<size_t>(t % 2), RecipientState::Pending, "451 t"}},
                                                1800000000000 + i);
                        break;
                    case 3: qm_->list(ListQuery{}); break;
                }
                // A message finished meanwhile is NotFound; nothing else may fail.
                if (r != ControlResult::Ok && r != ControlResult::NotFound) ++failures;
            }
            std::string extra = commit(envelope({"c@three.test"}));
            if (extra.empty()) ++failures;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    std::vector<MessageInfo> before;
    for (ListQuery q;;) {
        ListPage page = qm_->list(q);
        before.insert(before.end(), page.messages.begin(), page.messages.end());
        if (page.next_after.empty()) break;
        q.after_id = page.next_after;
    }
    EXPECT_EQ(before.size(), 44u);
    RecoveryStats st = restart();
    EXPECT_EQ(st.messages, 44u);
    EXPECT_EQ(st.damaged_journals, 0u);
    for (const MessageInfo& m : before) {
        auto after = qm_->info(m.id);
        ASSERT_TRUE(after) << m.id;
        EXPECT_EQ(after->attempts, m.attempts);
        EXPECT_EQ(after->next_attempt_ms, m.next_attempt_ms);
        EXPECT_EQ(after->state == MessageState::Held, m.state == MessageState::Held);
        for (size_t i = 0; i < m.recipients.size(); ++i) {
            EXPECT_EQ(after->recipients[i].state, m.recipients[i].state);
            EXPECT_EQ(after->recipients[i].attempts, m.recipients[i].attempts);
        }
    }
}

// An attempt whose journal append fails (here EFBIG from RLIMIT_FSIZE = 0, as a full disk
// gives ENOSPC): IoError, the states stay as the disk has them, and the message is not due
// again at once — its next attempt moved at least a minute ahead, in memory only — so delivery
// cannot loop on it. After a restart the old (durable) retry time is back.
TEST_F(QueueManagerTest, UnrecordedAttemptBacksOffInMemory) {
    using testing::now_ms;
    const std::string id = commit(envelope({"a@one.test", "b@two.test"}));
    ASSERT_FALSE(id.empty());
    const int64_t now = now_ms();
    ASSERT_EQ(qm_->due(now, 10), std::vector<std::string>{id});
    ControlResult r = ControlResult::Ok;
    testing::with_file_size_limit(0, [&] {
        r = qm_->record_attempt(
            id, {{0, RecipientState::Delivered, "250 ok"}, {1, RecipientState::Pending, "451 later"}}, 0);
    });
    EXPECT_EQ(r, ControlResult::IoError);
    auto info = qm_->info(id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->recipients[0].state, RecipientState::Pending);  // not recorded: not claimed
    EXPECT_EQ(info->attempts, 0u);
    EXPECT_GE(info->next_attempt_ms, now + 60000);
    EXPECT_TRUE(qm_->due(now + 1000, 10).empty()) << "due again at once after a failed record";
    EXPECT_EQ(qm_->due(info->next_attempt_ms, 10), std::vector<std::string>{id});
    // Nothing on disk changed: a restart brings the old state and retry time back.
    restart();
    info = qm_->info(id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->next_attempt_ms, 0);
    EXPECT_EQ(info->recipients[0].state, RecipientState::Pending);
    EXPECT_EQ(qm_->due(now_ms(), 10), std::vector<std::string>{id});
}

}  // namespace
}  // namespace petrel::queue
