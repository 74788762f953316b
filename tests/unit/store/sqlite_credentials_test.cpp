// Unit tests for store::open_sqlite_credentials and the shared credential rules.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/credentials.h"
#include "store/password_hash.h"

namespace petrel::store {
namespace {

namespace fs = std::filesystem;

class SqliteCredentialsTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "petrel-store-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        path_ = sqlite_store_path(dir_.string());
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<Credentials> open() {
        return open_sqlite_credentials(path_, PasswordCost::minimum());
    }

    // Runs one query on the file directly and returns the first column of the first row.
    std::string query(const std::string& sql) {
        sqlite3* db = nullptr;
        EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
        std::string out;
        if (st && sqlite3_step(st) == SQLITE_ROW) {
            auto p = sqlite3_column_text(st, 0);
            out = p ? reinterpret_cast<const char*>(p) : "";
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return out;
    }

    fs::path dir_;
    std::string path_;
};

TEST_F(SqliteCredentialsTest, AddThenVerify) {
    auto c = open();
    EXPECT_EQ(c->add_user("app1@example.test", "s3cret"), StoreStatus::Ok);
    EXPECT_EQ(c->verify("app1@example.test", "s3cret"), VerifyResult::Ok);
}

TEST_F(SqliteCredentialsTest, WrongPasswordIsBadCredentials) {
    auto c = open();
    ASSERT_EQ(c->add_user("alice", "right"), StoreStatus::Ok);
    EXPECT_EQ(c->verify("alice", "wrong"), VerifyResult::BadCredentials);
    EXPECT_EQ(c->verify("alice", "righ"), VerifyResult::BadCredentials);
    EXPECT_EQ(c->verify("alice", "right "), VerifyResult::BadCredentials);
    EXPECT_EQ(c->verify("alice", std::string("right\0", 6)), VerifyResult::BadCredentials);
}

TEST_F(SqliteCredentialsTest, UnknownUserIsBadCredentials) {
    auto c = open();
    EXPECT_EQ(c->verify("nobody", "x"), VerifyResult::BadCredentials);
    ASSERT_EQ(c->add_user("alice", "pw"), StoreStatus::Ok);
    EXPECT_EQ(c->verify("Alice", "pw"), VerifyResult::BadCredentials);  // names are exact
    EXPECT_EQ(c->verify("", "pw"), VerifyResult::BadCredentials);
    EXPECT_EQ(c->verify("bad name", "pw"), VerifyResult::BadCredentials);
    EXPECT_EQ(c->verify("alice", ""), VerifyResult::BadCredentials);
}

TEST_F(SqliteCredentialsTest, DuplicateAddIsRefused) {
    auto c = open();
    ASSERT_EQ(c->add_user("alice", "one"), StoreStatus::Ok);
    EXPECT_EQ(c->add_user("alice", "two"), StoreStatus::AlreadyExists);
    EXPECT_EQ(c->verify("alice", "one"), VerifyResult::Ok);
    EXPECT_EQ(c->verify("alice", "two"), VerifyResult::BadCredentials);
}

TEST_F(SqliteCredentialsTest, RemoveUser) {
    auto c = open();
    ASSERT_EQ(c->add_user("alice", "pw"), StoreStatus::Ok);
    EXPECT_EQ(c->remove_user("alice"), StoreStatus::Ok);
    EXPECT_EQ(c->verify("alice", "pw"), VerifyResult::BadCredentials);
    EXPECT_EQ(c->remove_user("alice"), StoreStatus::NotFound);
    EXPECT_EQ(c->remove_user("bad name"), StoreStatus::NotFound);
    EXPECT_TRUE(c->list_users().empty());
    EXPECT_EQ(c->add_user("alice", "again"), StoreStatus::Ok);  // the name is free again
    EXPECT_EQ(c->verify("alice", "again"), VerifyResult::Ok);
}

TEST_F(SqliteCredentialsTest, SetPassword) {
    auto c = open();
    ASSERT_EQ(c->add_user("alice", "old"), StoreStatus::Ok);
    EXPECT_EQ(c->set_password("alice", "new"), StoreStatus::Ok);
    EXPECT_EQ(c->verify("alice", "new"), VerifyResult::Ok);
    EXPECT_EQ(c->verify("alice", "old"), VerifyResult::BadCredentials);
    EXPECT_EQ(c->set_password("bob", "x"), StoreStatus::NotFound);
    EXPECT_EQ(c->set_password("alice", ""), StoreStatus::InvalidInput);
    EXPECT_EQ(c->verify("alice", "new"), VerifyResult::Ok);
}

TEST_F(SqliteCredentialsTest, ListIsSortedWithCreationTime) {
    auto c = open();
    ASSERT_EQ(c->add_user("zed", "1"), StoreStatus::Ok);
    ASSERT_EQ(c->add_user("app1@example.test", "2"), StoreStatus::Ok);
    ASSERT_EQ(c->add_user("bob", "3"), StoreStatus::Ok);
    auto users = c->list_users();
    ASSERT_EQ(users.size(), 3u);
    EXPECT_EQ(users[0].name, "app1@example.test");
    EXPECT_EQ(users[1].name, "bob");
    EXPECT_EQ(users[2].name, "zed");
    for (const auto& u : users) {
        // ISO 8601 UTC: 2024-05-01T12:34:56Z
        ASSERT_EQ(u.created.size(), 20u) << u.created;
        EXPECT_EQ(u.created[4], '-');
        EXPECT_EQ(u.created[10], 'T');
        EXPECT_EQ(u.created.back(), 'Z');
    }
}

TEST_F(SqliteCredentialsTest, InvalidInputIsRefused) {
    auto c = open();
    EXPECT_EQ(c->add_user("", "pw"), StoreStatus::InvalidInput);
    EXPECT_EQ(c->add_user("has space", "pw"), StoreStatus::InvalidInput);
    EXPECT_EQ(c->add_user("tab\tname", "pw"), StoreStatus::InvalidInput);
    EXPECT_EQ(c->add_user("caf\xc3\xa9", "pw"), StoreStatus::InvalidInput);
    EXPECT_EQ(c->add_user(std::string(129, 'a'), "pw"), StoreStatus::InvalidInput);
    EXPECT_EQ(c->add_user("alice", ""), StoreStatus::InvalidInput);
    EXPECT_EQ(c->add_user("alice", std::string("a\0b", 3)), StoreStatus::InvalidInput);
    EXPECT_EQ(c->add_user("alice", std::string(1025, 'p')), StoreStatus::InvalidInput);
    EXPECT_TRUE(c->list_users().empty());
    EXPECT_EQ(c->add_user(std::string(128, 'a'), std::string(1024, 'p')), StoreStatus::Ok);
    EXPECT_EQ(c->verify(std::string(128, 'a'), std::string(1024, 'p')), VerifyResult::Ok);
}

TEST(CredentialRules, NamesAndPasswords) {
    EXPECT_TRUE(is_valid_user_name("a"));
    EXPECT_TRUE(is_valid_user_name("app1@example.test"));
    EXPECT_TRUE(is_valid_user_name("!~\"'%"));
    EXPECT_FALSE(is_valid_user_name(""));
    EXPECT_FALSE(is_valid_user_name(" a"));
    EXPECT_FALSE(is_valid_user_name("a\x7f"));
    EXPECT_FALSE(is_valid_user_name(std::string("a\0", 2)));
    EXPECT_TRUE(is_valid_user_name(std::string(128, 'x')));
    EXPECT_FALSE(is_valid_user_name(std::string(129, 'x')));
    EXPECT_TRUE(is_valid_password("p w\t\xc3\xa9"));  // any byte but NUL
    EXPECT_FALSE(is_valid_password(""));
    EXPECT_TRUE(is_valid_password(std::string(1024, 'x')));
    EXPECT_FALSE(is_valid_password(std::string(1025, 'x')));
    EXPECT_EQ(sqlite_store_path("/var/lib/petrel"), "/var/lib/petrel/store.sqlite");
    EXPECT_EQ(sqlite_store_path("/var/lib/petrel/"), "/var/lib/petrel/store.sqlite");
}

TEST_F(SqliteCredentialsTest, ReopenPersists) {
    {
        auto c = open();
        ASSERT_EQ(c->add_user("alice", "pw"), StoreStatus::Ok);
        ASSERT_EQ(c->add_user("bob", "pw2"), StoreStatus::Ok);
        ASSERT_EQ(c->remove_user("bob"), StoreStatus::Ok);
    }
    auto c = open();
    EXPECT_EQ(c->verify("alice", "pw"), VerifyResult::Ok);
    EXPECT_EQ(c->verify("bob", "pw2"), VerifyResult::BadCredentials);
    ASSERT_EQ(c->list_users().size(), 1u);
}

TEST_F(SqliteCredentialsTest, TwoHandlesSeeEachOthersWrites) {
    // `petrel user add` (one process) and `petrel serve` (another) share the file.
    auto server = open();
    auto cli = open();
    EXPECT_EQ(server->verify("alice", "pw"), VerifyResult::BadCredentials);
    ASSERT_EQ(cli->add_user("alice", "pw"), StoreStatus::Ok);
    EXPECT_EQ(server->verify("alice", "pw"), VerifyResult::Ok);
    ASSERT_EQ(cli->remove_user("alice"), StoreStatus::Ok);
    EXPECT_EQ(server->verify("alice", "pw"), VerifyResult::BadCredentials);
}

TEST_F(SqliteCredentialsTest, HashesAreArgon2idAtTheConfiguredCost) {
    {
        auto c = open_sqlite_credentials(path_);  // default: interactive
        ASSERT_EQ(c->add_user("alice", "pw"), StoreStatus::Ok);
    }
    std::string hash = query("SELECT hash FROM users WHERE name = 'alice'");
    EXPECT_EQ(hash.rfind("$argon2id$v=19$", 0), 0u) << hash;
    // crypto_pwhash_MEMLIMIT_INTERACTIVE is 64 MiB, OPSLIMIT_INTERACTIVE is 2.
    EXPECT_NE(hash.find("m=65536,t=2,"), std::string::npos) << hash;
    EXPECT_EQ(hash.find("pw"), std::string::npos);
}

TEST_F(SqliteCredentialsTest, WeakerHashIsUpgradedOnLogin) {
    {
        auto c = open();  // minimum cost
        ASSERT_EQ(c->add_user("alice", "pw"), StoreStatus::Ok);
    }
    std::string before = query("SELECT hash FROM users WHERE name = 'alice'");
    EXPECT_TRUE(needs_rehash(before, PasswordCost::interactive()));
    auto c = open_sqlite_credentials(path_);
    EXPECT_EQ(c->verify("alice", "wrong"), VerifyResult::BadCredentials);
    EXPECT_EQ(query("SELECT hash FROM users WHERE name = 'alice'"), before);
    EXPECT_EQ(c->verify("alice", "pw"), VerifyResult::Ok);
    std::string after = query("SELECT hash FROM users WHERE name = 'alice'");
    EXPECT_NE(after, before);
    EXPECT_FALSE(needs_rehash(after, PasswordCost::interactive()));
    EXPECT_EQ(c->verify("alice", "pw"), VerifyResult::Ok);
}

TEST_F(SqliteCredentialsTest, UnknownUserCostsAsMuchAsAWrongPassword) {
    // No user enumeration by timing: take the fastest of a few runs of each, so that load on
    // the machine cannot make the check flaky; without the dummy verify the unknown user
    // answers in microseconds, about a thousand times faster.
    auto c = open_sqlite_credentials(path_);  // interactive cost: ~0.1 s per verify
    ASSERT_EQ(c->add_user("alice", "pw"), StoreStatus::Ok);
    auto fastest = [&](const char* name) {
        auto best = std::chrono::steady_clock::duration::max();
        for (int i = 0; i < 3; ++i) {
            auto start = std::chrono::steady_clock::now();
            EXPECT_EQ(c->verify(name, "wrong"), VerifyResult::BadCredentials);
            best = std::min(best, std::chrono::steady_clock::now() - start);
        }
        return best;
    };
    auto known = fastest("alice");
    auto unknown = fastest("mallory");
    EXPECT_GT(unknown * 3, known);
}

TEST_F(SqliteCredentialsTest, SchemaVersionAndWal) {
    { auto c = open(); }
    EXPECT_EQ(query("SELECT version FROM schema_version"), "1");
    EXPECT_EQ(query("SELECT COUNT(*) FROM schema_version"), "1");
    EXPECT_EQ(query("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(query("SELECT COUNT(*) FROM pragma_table_info('users') "
                    "WHERE name IN ('name','hash','created')"),
              "3");
    { auto c = open(); }  // reopening does not migrate twice
    EXPECT_EQ(query("SELECT COUNT(*) FROM schema_version"), "1");
}

TEST_F(SqliteCredentialsTest, FileIsPrivate) {
    { auto c = open(); }
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SqliteCredentialsTest, NewerSchemaIsRefused) {
    { auto c = open(); }
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr,
                               nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    EXPECT_THROW(open(), std::runtime_error);
}

TEST_F(SqliteCredentialsTest, OpenFailureThrows) {
    EXPECT_THROW(open_sqlite_credentials((dir_ / "missing" / "store.sqlite").string(),
                                         PasswordCost::minimum()),
                 std::runtime_error);
}

TEST_F(SqliteCredentialsTest, ConcurrentVerifiesAndWrites) {
    auto c = open();
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(c->add_user("user" + std::to_string(i), "pw" + std::to_string(i)),
                  StoreStatus::Ok);
    }
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                int u = (t + i) % 4;
                if (c->verify("user" + std::to_string(u), "pw" + std::to_string(u)) !=
                    VerifyResult::Ok) {
                    ++wrong;
                }
                if (c->verify("user" + std::to_string(u), "nope") !=
                    VerifyResult::BadCredentials) {
                    ++wrong;
                }
                if (c->verify("ghost", "pw") != VerifyResult::BadCredentials) ++wrong;
            }
        });
    }
    // A writer at the same time, on the same handle.
    threads.emplace_back([&] {
        for (int i = 0; i < 10; ++i) {
            std::string n = "extra" + std::to_string(i);
            if (c->add_user(n, "x") != StoreStatus::Ok) ++wrong;
            if (c->remove_user(n) != StoreStatus::Ok) ++wrong;
        }
    });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(c->list_users().size(), 4u);
}

}  // namespace
}  // namespace petrel::store
