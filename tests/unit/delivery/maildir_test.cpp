// Unit tests for delivery::MaildirDelivery (delivery/maildir.h): the Maildir protocol (tmp →
// new, unique names), the headers added (RFC 5321 §4.4 Return-Path, Delivered-To), refused
// names, and the errors' kinds (disk full → 452 4.3.1, other I/O → 451 4.3.0, unknown → 550).
// Real files in a temp directory; the disk-full case mounts a tiny tmpfs (needs root, else skipped).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "delivery/maildir.h"

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
    return out;
}

mail::Envelope envelope(std::optional<mail::Mailbox> sender, std::vector<std::string> rcpts) {
    mail::Envelope env;
    env.sender = std::move(sender);
    for (const std::string& r : rcpts) {
        auto at = r.find('@');
        env.recipients.push_back({{r.substr(0, at), r.substr(at + 1)}, {}, {}});
    }
    return env;
}

const std::string kMessage = "Subject: hi\r\nFrom: a@b.test\r\n\r\nline one\r\n.dot line\r\nend\r\n";
const std::string kStored = "Subject: hi\nFrom: a@b.test\n\nline one\n.dot line\nend\n";

class Maildir : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-maildir-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        root_ = dir_ / "mail";  // missing: created on the first delivery
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_, root_;
};

TEST_F(Maildir, DeliversIntoNewWithHeadersAndCreatesTheTree) {
    MaildirDelivery md(root_.string());
    auto o = md.deliver("Alice", kMessage, envelope(mail::Mailbox{"bob", "client.test"},
                                                    {"Alice@local.test"}));
    ASSERT_TRUE(o.ok) << o.reply;
    EXPECT_EQ(o.reply.rfind("250 2.0.0 ", 0), 0u) << o.reply;
    const fs::path md_dir = root_ / "alice" / "Maildir";  // lower-cased name
    for (const char* d : {"tmp", "new", "cur"}) {
        ASSERT_TRUE(fs::is_directory(md_dir / d)) << d;
        EXPECT_EQ(fs::status(md_dir / d).permissions(), fs::perms::owner_all) << d;
    }
    EXPECT_EQ(fs::status(root_).permissions(), fs::perms::owner_all);
    EXPECT_TRUE(files_in(md_dir / "tmp").empty()) << "tmp/ must be empty after the rename";
    auto fresh = files_in(md_dir / "new");
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_EQ(fs::status(fresh[0]).permissions(), fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(slurp(fresh[0]),
              "Return-Path: <bob@client.test>\nDelivered-To: Alice@local.test\n" + kStored);
}

TEST_F(Maildir, NullSenderAndFallbackDeliveredTo) {
    MaildirDelivery md(root_.string());
    auto o = md.deliver("carol", kMessage, envelope(std::nullopt, {"someone@else.test"}));
    ASSERT_TRUE(o.ok) << o.reply;
    auto fresh = files_in(root_ / "carol" / "Maildir" / "new");
    ASSERT_EQ(fresh.size(), 1u);
    const std::string stored = slurp(fresh[0]);
    EXPECT_EQ(stored.rfind("Return-Path: <>\nDelivered-To: carol@", 0), 0u) << stored;
    EXPECT_EQ(stored.substr(stored.size() - kStored.size()), kStored);
}

TEST_F(Maildir, UniqueNamesFollowTheProtocol) {
    MaildirDelivery md(root_.string());
    const std::string n = md.unique_name();
    // <sec>.M<usec>P<pid>Q<counter>R<random>.<host>
    EXPECT_NE(n.find(".M"), std::string::npos) << n;
    EXPECT_NE(n.find("P" + std::to_string(::getpid()) + "Q"), std::string::npos) << n;
    EXPECT_NE(n.find('R'), std::string::npos) << n;
    EXPECT_EQ(n.find('/'), std::string::npos) << n;
    EXPECT_EQ(n.find(':'), std::string::npos) << n;
    EXPECT_NE(md.unique_name(), n);
}

TEST_F(Maildir, ConcurrentDeliveriesAllLandWithDistinctNames) {
    MaildirDelivery md(root_.string());
    constexpr int kThreads = 8, kEach = 25;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                std::string body = "Subject: " + std::to_string(t) + "-" + std::to_string(i) + "\r\n\r\nx\r\n";
                if (!md.deliver("dave", body, envelope(std::nullopt, {"dave@local.test"})).ok) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    auto fresh = files_in(root_ / "dave" / "Maildir" / "new");
    ASSERT_EQ(fresh.size(), static_cast<size_t>(kThreads * kEach));
    std::set<std::string> subjects;
    for (const auto& p : fresh) subjects.insert(slurp(p));
    EXPECT_EQ(subjects.size(), fresh.size()) << "every message stored once, none overwritten";
}

TEST_F(Maildir, RefusesNamesThatCouldEscapeTheRoot) {
    MaildirDelivery md(root_.string());
    for (std::string bad : std::vector<std::string>{"../evil", "..", ".", ".hidden", "a/b", "/etc", "a..b", "",
                            std::string("a\0b", 3), "a\\b", "tab\there", "\"../x\""}) {
        auto o = md.deliver(bad, kMessage, envelope(std::nullopt, {"x@local.test"}));
        EXPECT_FALSE(o.ok) << bad;
        EXPECT_TRUE(o.permanent) << bad;
        EXPECT_EQ(o.reply.rfind("550 5.1.3 ", 0), 0u) << bad << ": " << o.reply;
    }
    EXPECT_FALSE(fs::exists(dir_ / "evil"));
    EXPECT_FALSE(fs::exists(root_)) << "nothing created for a refused name";
}

TEST_F(Maildir, QuotedLocalPartIsTheSameMailbox) {
    MaildirDelivery md(root_.string());
    ASSERT_TRUE(md.deliver("\"Erin\"", kMessage, envelope(std::nullopt, {"erin@local.test"})).ok);
    EXPECT_EQ(files_in(root_ / "erin" / "Maildir" / "new").size(), 1u);
}

TEST_F(Maildir, LookupResolvesAliasesAndRefusesUnknownUsers) {
    MaildirDelivery md(root_.string(), [](std::string_view local) -> std::optional<std::string> {
        if (local == "postmaster" || local == "alice") return std::string("alice");
        return std::nullopt;
    });
    auto o = md.deliver("nobody", kMessage, envelope(std::nullopt, {"nobody@local.test"}));
    EXPECT_FALSE(o.ok);
    EXPECT_TRUE(o.permanent);
    EXPECT_EQ(o.reply.rfind("550 5.1.1 ", 0), 0u) << o.reply;
    o = md.deliver("postmaster", kMessage,
                   envelope(std::nullopt, {"alice@local.test", "postmaster@local.test"}));
    ASSERT_TRUE(o.ok) << o.reply;
    auto fresh = files_in(root_ / "alice" / "Maildir" / "new");
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_NE(slurp(fresh[0]).find("Delivered-To: postmaster@local.test\n"), std::string::npos);
    EXPECT_FALSE(fs::exists(root_ / "postmaster"));
}

TEST_F(Maildir, UnusableRootIsTemporary) {
    std::ofstream(dir_ / "file") << "x";  // the root is a file: ENOTDIR
    MaildirDelivery md((dir_ / "file").string());
    auto o = md.deliver("alice", kMessage, envelope(std::nullopt, {"alice@local.test"}));
    EXPECT_FALSE(o.ok);
    EXPECT_FALSE(o.permanent);
    EXPECT_EQ(o.reply.rfind("451 4.3.0 ", 0), 0u) << o.reply;
}

TEST_F(Maildir, SymlinkedMailboxIsNotFollowed) {
    fs::create_directories(root_);
    fs::create_directories(dir_ / "elsewhere");
    fs::create_directory_symlink(dir_ / "elsewhere", root_ / "mallory");
    MaildirDelivery md(root_.string());
    auto o = md.deliver("mallory", kMessage, envelope(std::nullopt, {"mallory@local.test"}));
    EXPECT_FALSE(o.ok);
    EXPECT_FALSE(o.permanent);
    EXPECT_TRUE(files_in(dir_ / "elsewhere").empty());
}

TEST_F(Maildir, DiskFullIsTemporary452AndLeavesNothingBehind) {
    fs::create_directories(root_);
    if (::mount("tmpfs", root_.c_str(), "tmpfs", 0, "size=64k,mode=0700") != 0) {
        GTEST_SKIP() << "cannot mount a tmpfs (not root?): " << std::strerror(errno);
    }
    MaildirDelivery md(root_.string());
    const std::string big = "Subject: big\r\n\r\n" + std::string(256 * 1024, 'x') + "\r\n";
    auto o = md.deliver("frank", big, envelope(std::nullopt, {"frank@local.test"}));
    const auto tmp_left = files_in(root_ / "frank" / "Maildir" / "tmp");
    const auto new_left = files_in(root_ / "frank" / "Maildir" / "new");
    // A small one still fits afterwards: the failed one was removed.
    auto small = md.deliver("frank", kMessage, envelope(std::nullopt, {"frank@local.test"}));
    ::umount2(root_.c_str(), MNT_DETACH);
    EXPECT_FALSE(o.ok);
    EXPECT_FALSE(o.permanent);
    EXPECT_EQ(o.reply.rfind("452 4.3.1 ", 0), 0u) << o.reply;
    EXPECT_TRUE(tmp_left.empty());
    EXPECT_TRUE(new_left.empty());
    EXPECT_TRUE(small.ok) << small.reply;
}

}  // namespace
}  // namespace petrel::delivery
