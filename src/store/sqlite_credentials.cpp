// store/sqlite_credentials.cpp — store::Credentials on an embedded SQLite database.
//
// All the SQL of the credentials store lives in this file, so a PostgreSQL backend is a sibling
// file implementing the same interface (store/README.md). One connection per store, guarded by a
// mutex; the slow argon2id work (store/password_hash.h) runs outside the mutex, so concurrent
// logins only serialize on the short SELECT. WAL mode lets `petrel user ...` write while a
// running `petrel serve` reads; busy_timeout absorbs the brief write locks.
// Trust: names and passwords come from clients (verify) or the operator (add/passwd); both are
// validated and bound as parameters, never spliced into SQL.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include "store/credentials.h"
#include "store/password_hash.h"

namespace petrel::store {

namespace {

// Bump when the schema changes, and add a step to migrate() that brings version N-1 to N.
constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

// A prepared statement, finalized on scope exit.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
    ~Stmt() { sqlite3_finalize(stmt_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    bool ok() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }
    Stmt& bind(int i, std::string_view text) {
        if (ok()) {
            rc_ = sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()),
                                    SQLITE_TRANSIENT);
        }
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return ok() ? sqlite3_step(stmt_) : rc_; }
    std::string text(int col) const {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
                 : std::string();
    }
    int integer(int col) const { return sqlite3_column_int(stmt_, col); }

private:
    sqlite3_stmt* stmt_ = nullptr;
    int rc_ = SQLITE_ERROR;
};

std::string now_iso8601() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

class SqliteCredentials final : public Credentials {
public:
    SqliteCredentials(const std::string& path, PasswordCost cost)
        : path_(path), cost_(resolve_cost(cost)) {
        ensure_sodium();
        create_private(path);
        int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                     SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        if (rc != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            throw std::runtime_error("cannot open store " + path + ": " + msg);
        }
        sqlite3_busy_timeout(db_, kBusyTimeoutMs);
        try {
            // WAL: readers (serve) and a writer (the CLI) do not block each other.
            // synchronous=NORMAL is durable across process crashes in WAL mode; a power cut
            // can lose at most the last committed user change, never corrupt the file.
            exec("PRAGMA journal_mode=WAL");
            exec("PRAGMA synchronous=NORMAL");
            migrate();
        } catch (...) {
            sqlite3_close(db_);
            throw;
        }
    }

    ~SqliteCredentials() override { sqlite3_close(db_); }

    StoreStatus add_user(std::string_view name, std::string_view password) override {
        if (!is_valid_user_name(name) || !is_valid_password(password)) {
            return StoreStatus::InvalidInput;
        }
        // Cheap check first, so a duplicate does not cost an argon2id; the PRIMARY KEY still
        // decides a race with another writer.
        if (auto h = lookup(name); !h) return StoreStatus::Unavailable;
        else if (*h) return StoreStatus::AlreadyExists;

        auto hash = hash_password(password, cost_);
        if (!hash) return StoreStatus::Unavailable;

        std::lock_guard lock(mu_);
        Stmt s(db_, "INSERT INTO users(name, hash, created) VALUES(?1, ?2, ?3)");
        s.bind(1, name).bind(2, *hash).bind(3, now_iso8601());
        int rc = s.step();
        if (rc == SQLITE_DONE) return StoreStatus::Ok;
        if ((rc & 0xff) == SQLITE_CONSTRAINT) return StoreStatus::AlreadyExists;
        return StoreStatus::Unavailable;
    }

    StoreStatus set_password(std::string_view name, std::string_view password) override {
        if (!is_valid_user_name(name) || !is_valid_password(password)) {
            return StoreStatus::InvalidInput;
        }
        if (auto h = lookup(name); !h) return StoreStatus::Unavailable;
        else if (!*h) return StoreStatus::NotFound;

        auto hash = hash_password(password, cost_);
        if (!hash) return StoreStatus::Unavailable;

        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE users SET hash = ?2 WHERE name = ?1");
        s.bind(1, name).bind(2, *hash);
        if (s.step() != SQLITE_DONE) return StoreStatus::Unavailable;
        return sqlite3_changes(db_) > 0 ? StoreStatus::Ok : StoreStatus::NotFound;
    }

    StoreStatus remove_user(std::string_view name) override {
        if (!is_valid_user_name(name)) return StoreStatus::NotFound;
        std::lock_guard lock(mu_);
        Stmt s(db_, "DELETE FROM users WHERE name = ?1");
        s.bind(1, name);
        if (s.step() != SQLITE_DONE) return StoreStatus::Unavailable;
        return sqlite3_changes(db_) > 0 ? StoreStatus::Ok : StoreStatus::NotFound;
    }

    std::vector<UserInfo> list_users() override {
        std::vector<UserInfo> out;
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT name, created FROM users ORDER BY name");
        while (s.step() == SQLITE_ROW) out.push_back({s.text(0), s.text(1)});
        return out;
    }

    VerifyResult verify(std::string_view name, std::string_view password) override {
        if (!is_valid_user_name(name) || !is_valid_password(password)) {
            verify_dummy(password, cost_);
            return VerifyResult::BadCredentials;
        }
        auto stored = lookup(name);  // takes and releases the mutex
        if (!stored) return VerifyResult::Unavailable;
        if (!*stored) {
            // Unknown user: spend one verify anyway (no enumeration by timing).
            verify_dummy(password, cost_);
            return VerifyResult::BadCredentials;
        }
        const std::string& hash = **stored;
        if (!verify_password(hash, password)) return VerifyResult::BadCredentials;
        if (needs_rehash(hash, cost_)) upgrade(name, hash, password);
        return VerifyResult::Ok;
    }

private:
    // Creates the database file readable by its owner only (it holds password hashes); SQLite
    // gives its -wal and -shm files the same mode.
    static void create_private(const std::string& path) {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::close(fd);
        } else if (errno != EEXIST) {
            throw std::runtime_error("cannot create store " + path + ": " +
                                     std::strerror(errno));
        }
    }

    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            throw std::runtime_error("store " + path_ + ": " + msg);
        }
    }

    // Brings the schema to kSchemaVersion inside one write transaction, so two processes
    // opening a fresh store at once cannot both create it.
    void migrate() {
        exec("BEGIN IMMEDIATE");
        try {
            exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
            int version = 0;
            {
                Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
                if (s.step() == SQLITE_ROW) version = s.integer(0);
            }
            if (version > kSchemaVersion) {
                throw std::runtime_error("store " + path_ + " has schema version " +
                                         std::to_string(version) +
                                         ", newer than this petrel understands (" +
                                         std::to_string(kSchemaVersion) + ")");
            }
            if (version < 1) {
                exec("CREATE TABLE users("
                     "name TEXT PRIMARY KEY NOT NULL, "
                     "hash TEXT NOT NULL, "
                     "created TEXT NOT NULL)");
            }
            // Future steps: if (version < 2) { ... }
            if (version != kSchemaVersion) {
                exec("DELETE FROM schema_version");
                exec(("INSERT INTO schema_version(version) VALUES(" +
                      std::to_string(kSchemaVersion) + ")")
                         .c_str());
            }
            exec("COMMIT");
        } catch (...) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    // The stored hash of `name`: nullopt on a database error, an empty optional inside when
    // there is no such user.
    std::optional<std::optional<std::string>> lookup(std::string_view name) {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT hash FROM users WHERE name = ?1");
        s.bind(1, name);
        int rc = s.step();
        if (rc == SQLITE_ROW) return std::optional<std::string>(s.text(0));
        if (rc == SQLITE_DONE) return std::optional<std::string>();
        return std::nullopt;
    }

    // Re-hashes at the configured cost after a successful login; skipped silently if the
    // password was changed meanwhile (the WHERE on the old hash).
    void upgrade(std::string_view name, const std::string& old_hash, std::string_view password) {
        auto hash = hash_password(password, cost_);
        if (!hash) return;
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE users SET hash = ?2 WHERE name = ?1 AND hash = ?3");
        s.bind(1, name).bind(2, *hash).bind(3, old_hash);
        (void)s.step();
    }

    std::string path_;
    PasswordCost cost_;
    std::mutex mu_;
    sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<Credentials> open_sqlite_credentials(const std::string& path) {
    return open_sqlite_credentials(path, PasswordCost::interactive());
}

std::unique_ptr<Credentials> open_sqlite_credentials(const std::string& path, PasswordCost cost) {
    return std::make_unique<SqliteCredentials>(path, cost);
}

}  // namespace petrel::store
