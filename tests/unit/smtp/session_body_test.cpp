// DATA and BDAT bodies through smtp::ServerSession: dot-stuffing, the end-of-data marker,
// SMTP smuggling (bare CR / bare LF), line and size limits, BDAT chunking and BINARYMIME.
#include <gtest/gtest.h>

#include "session_harness.h"

namespace petrel::smtp::testing {
namespace {

const char* const kTxn = "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n";
const std::vector<std::string> kTxnCodes = {"250", "250 2.1.0", "250 2.1.5"};

std::vector<std::string> with_txn(std::vector<std::string> tail) {
    std::vector<std::string> v = kTxnCodes;
    v.insert(v.end(), tail.begin(), tail.end());
    return v;
}

struct DataCase {
    const char* name;
    std::string body;                    // sent after DATA's 354, must end the DATA somehow
    std::vector<std::string> expected;   // codes after 354
    std::string stored;                  // expected body when committed
    int messages;
};

std::vector<DataCase> data_cases() {
    return {
        {"simple", "Subject: x\r\n\r\nhello\r\n.\r\n", {"250 2.0.0"}, "Subject: x\r\n\r\nhello\r\n", 1},
        {"empty", ".\r\n", {"250 2.0.0"}, "", 1},
        {"dot_unstuffing", "..leading\r\n...\r\n.x\r\n.\r\n", {"250 2.0.0"}, ".leading\r\n..\r\nx\r\n", 1},
        {"dot_in_middle", "a.b\r\n .\r\n.\r\n", {"250 2.0.0"}, "a.b\r\n .\r\n", 1},
        {"no_trailing_crlf_needed_in_body", "x\r\n.\r\n", {"250 2.0.0"}, "x\r\n", 1},
        {"eight_bit", "caf\xc3\xa9\r\n.\r\n", {"250 2.0.0"}, "caf\xc3\xa9\r\n", 1},
        // --- smuggling: none of these ends DATA; the real end does, and the message is refused.
        {"smuggle_lf_dot_lf", "a\n.\nMAIL FROM:<x@y>\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"smuggle_cr_dot_cr", "a\r.\rMAIL FROM:<x@y>\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"smuggle_lf_dot_crlf", "a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"smuggle_crlf_dot_lf", "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"smuggle_crlf_dot_cr", "a\r\n.\rMAIL FROM:<x@y>\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"smuggle_cr_dot_crlf", "a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"bare_lf_in_text", "a\nb\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"bare_cr_in_text", "a\rb\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"bare_cr_before_crlf", "a\r\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"bare_lf_at_start", "\n.\r\n.\r\n", {"550 5.5.2"}, "", 0},
        {"smuggle_full_second_message",
         "Subject: one\r\n\r\nx\n.\nMAIL FROM:<admin@b.test>\nRCPT TO:<c@d.test>\nDATA\nSubject: two\n\ny\n.\n\r\n.\r\n",
         {"550 5.5.2"}, "", 0},
        // After a refused body, the session is in step and takes the next command.
        {"resync_after_bare_lf", "a\n.\nb\r\n.\r\nNOOP\r\n", {"550 5.5.2", "250 2.0.0"}, "", 0},
    };
}

class DataTable : public ::testing::TestWithParam<DataCase> {};

TEST_P(DataTable, Body) {
    const DataCase& c = GetParam();
    Harness h;
    h.start();
    h.feed(kTxn);
    EXPECT_EQ(codes(h.feed("DATA\r\n")), std::vector<std::string>{"354"});
    EXPECT_EQ(codes(h.feed(c.body)), c.expected);
    ASSERT_EQ(static_cast<int>(h.messages.size()), c.messages);
    if (c.messages == 1) {
        EXPECT_EQ(h.messages[0].body, c.stored);
    }
    // The transaction is over either way.
    EXPECT_EQ(codes(h.feed("RCPT TO:<c@d.test>\r\n")), std::vector<std::string>{"503 5.5.1"});
}

INSTANTIATE_TEST_SUITE_P(Session, DataTable, ::testing::ValuesIn(data_cases()),
                         [](const ::testing::TestParamInfo<DataCase>& i) { return std::string(i.param.name); });

TEST(SessionData, SmuggledCommandsAreNeverExecuted) {
    Harness h;
    h.start();
    h.feed(kTxn);
    const std::string w = h.feed("DATA\r\nx\n.\nMAIL FROM:<evil@b.test>\nRCPT TO:<c@d.test>\nDATA\nevil\n.\n");
    EXPECT_EQ(codes(w), std::vector<std::string>{"354"});  // still in DATA: nothing executed
    EXPECT_TRUE(h.messages.empty());
    EXPECT_EQ(codes(h.feed("\r\n.\r\n")), std::vector<std::string>{"550 5.5.2"});
    EXPECT_TRUE(h.messages.empty());
    EXPECT_TRUE(h.has_event("protocol", "bare CR or LF"));
}

TEST(SessionData, LineLimit) {
    Harness h;
    h.cfg.limits.max_data_line = 20;
    h.start();
    h.feed(kTxn);
    // 18 octets + CRLF = 20: accepted.
    h.feed("DATA\r\n");
    EXPECT_EQ(codes(h.feed(std::string(18, 'a') + "\r\n.\r\n")), std::vector<std::string>{"250 2.0.0"});
    h.feed("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
    EXPECT_EQ(codes(h.feed(std::string(19, 'a') + "\r\n.\r\n")), std::vector<std::string>{"500 5.5.6"});
    // A stuffed dot counts as sent.
    h.feed("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
    EXPECT_EQ(codes(h.feed("." + std::string(18, 'a') + "\r\n.\r\n")), std::vector<std::string>{"500 5.5.6"});
    EXPECT_EQ(h.messages.size(), 1u);
}

TEST(SessionData, SizeLimit) {
    Harness h;
    h.cfg.limits.max_message_size = 100;
    h.start();
    h.feed(kTxn);
    h.feed("DATA\r\n");
    EXPECT_EQ(codes(h.feed(std::string(98, 'a') + "\r\n.\r\n")), std::vector<std::string>{"250 2.0.0"});
    h.feed("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
    std::string big;
    for (int i = 0; i < 50; ++i) big += std::string(50, 'b') + "\r\n";
    EXPECT_EQ(codes(h.feed(big + ".\r\n")), std::vector<std::string>{"552 5.3.4"});
    EXPECT_EQ(h.messages.size(), 1u);
}

TEST(SessionData, PipelinedTransaction) {
    Harness h;
    h.start();
    const std::string w =
        h.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\nx\r\n.\r\n"
               "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n");
    EXPECT_EQ(codes(w), (std::vector<std::string>{"250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "250 2.0.0",
                                                  "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"}));
    ASSERT_EQ(h.messages.size(), 2u);
    EXPECT_EQ(h.messages[0].body, "x\r\n");
    EXPECT_EQ(h.messages[1].body, "y\r\n");
}

TEST(SessionData, PendingCommitBuffersInput) {
    Harness h;
    h.resolve = false;
    h.start();
    h.feed(std::string(kTxn) + "DATA\r\nx\r\n.\r\nNOOP\r\n");
    EXPECT_EQ(h.last_action, Action::Commit);
    // More input while the commit is pending is kept, not processed.
    EXPECT_EQ(h.feed("NOOP\r\n"), "");
    const std::string w = h.handle(h.session->commit_result(CommitResult{true, "ID1", std::nullopt}));
    EXPECT_EQ(codes(w), (std::vector<std::string>{"250 2.0.0", "250 2.0.0", "250 2.0.0"}));
}

TEST(SessionData, PendingInputIsBounded) {
    Harness h;
    h.resolve = false;
    h.start();
    h.feed(std::string(kTxn) + "DATA\r\nx\r\n.\r\n");
    EXPECT_EQ(h.last_action, Action::Commit);
    const std::string chunk(8192, 'N');
    for (int i = 0; i < 10; ++i) h.feed(chunk);
    const std::string w = h.handle(h.session->commit_result(CommitResult{true, "ID1", std::nullopt}));
    EXPECT_EQ(codes(w), (std::vector<std::string>{"250 2.0.0", "421 4.7.0"}));
    EXPECT_TRUE(h.session->closed());
}

// ---- BDAT ------------------------------------------------------------------------------

TEST(SessionBdat, ChunksAreBinarySafe) {
    Harness h;
    h.start();
    h.feed("EHLO c\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\n");
    std::string chunk1("\x00\r\x01\n.\r\n", 7);
    std::string chunk2 = "BDAT 3 LAST\r\n";  // data that looks like a command
    const std::string w = h.feed("BDAT 7\r\n" + chunk1 + "BDAT 13 LAST\r\n" + chunk2);
    EXPECT_EQ(codes(w), (std::vector<std::string>{"250 2.0.0", "250 2.0.0"}));
    EXPECT_EQ(reply_lines(w)[0], "250 2.0.0 7 octets received");
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0].body, chunk1 + chunk2);
    EXPECT_EQ(h.messages[0].envelope.params.body, mail::BodyType::BinaryMime);
}

TEST(SessionBdat, BareLfRefusedInTextBody) {
    Harness h;
    h.start();
    h.feed(kTxn);
    EXPECT_EQ(codes(h.feed("BDAT 4\r\na\nb\r")), std::vector<std::string>{"250 2.0.0"});
    EXPECT_EQ(codes(h.feed("BDAT 1 LAST\r\n\n")), std::vector<std::string>{"550 5.5.2"});
    EXPECT_TRUE(h.messages.empty());
}

TEST(SessionBdat, CrLfAcrossChunksIsFine) {
    Harness h;
    h.start();
    h.feed(kTxn);
    h.feed("BDAT 2\r\na\r");
    EXPECT_EQ(codes(h.feed("BDAT 1 LAST\r\n\n")), std::vector<std::string>{"250 2.0.0"});
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0].body, "a\r\n");
}

TEST(SessionBdat, TrailingBareCrRefused) {
    Harness h;
    h.start();
    h.feed(kTxn);
    EXPECT_EQ(codes(h.feed("BDAT 2 LAST\r\na\r")), std::vector<std::string>{"550 5.5.2"});
}

TEST(SessionBdat, SizeLimitAcrossChunks) {
    Harness h;
    h.cfg.limits.max_message_size = 10;
    h.start();
    h.feed(kTxn);
    EXPECT_EQ(codes(h.feed("BDAT 6\r\n12345\n")), std::vector<std::string>{"250 2.0.0"});
    EXPECT_EQ(codes(h.feed("BDAT 6\r\n123456")), std::vector<std::string>{"552 5.3.4"});
    // The transaction is gone; a further chunk is consumed and refused.
    EXPECT_EQ(codes(h.feed("BDAT 3 LAST\r\nabcNOOP\r\n")), (std::vector<std::string>{"503 5.5.1", "250 2.0.0"}));
}

TEST(SessionBdat, ZeroLastEmptyMessage) {
    Harness h;
    h.start();
    h.feed(kTxn);
    EXPECT_EQ(codes(h.feed("BDAT 0 LAST\r\n")), std::vector<std::string>{"250 2.0.0"});
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0].body, "");
}

TEST(SessionBdat, RefusedChunkStillConsumed) {
    Harness h;
    h.start();
    h.feed("EHLO c\r\n");
    // Without MAIL, the 10 octets (which look like commands) must not be executed.
    EXPECT_EQ(codes(h.feed("BDAT 10\r\nQUIT\r\nQUITNOOP\r\n")), (std::vector<std::string>{"503 5.5.1", "250 2.0.0"}));
    EXPECT_FALSE(h.session->closed());
}

TEST(SessionBdat, LineLimitInTextBody) {
    Harness h;
    h.cfg.limits.max_data_line = 10;
    h.start();
    h.feed(kTxn);
    EXPECT_EQ(codes(h.feed("BDAT 12 LAST\r\n0123456789\r\n")), std::vector<std::string>{"500 5.5.6"});
    h.feed("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\n");
    EXPECT_EQ(codes(h.feed("BDAT 12 LAST\r\n0123456789\r\n")), std::vector<std::string>{"250 2.0.0"});
}

TEST(SessionBdat, PipelinedAfterLast) {
    Harness h;
    h.start();
    const std::string w = h.feed(std::string(kTxn) + "BDAT 3 LAST\r\nx\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"
                                                     "BDAT 3 LAST\r\ny\r\nQUIT\r\n");
    EXPECT_EQ(codes(w), with_txn({"250 2.0.0", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"}));
    ASSERT_EQ(h.messages.size(), 2u);
    EXPECT_EQ(h.messages[1].body, "y\r\n");
}

}  // namespace
}  // namespace petrel::smtp::testing
