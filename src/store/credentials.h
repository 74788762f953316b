// store/credentials.h — SMTP AUTH credentials: users and their argon2id password hashes.
//
// Backends: SQLite embedded (store/sqlite_credentials.*); PostgreSQL later behind the same
// interface (PRODUCT.md, "Scale beyond one machine").
// Thread-safety: an implementation is safe to call from several threads. `verify` is slow on
// purpose (argon2id): call it off the I/O threads.
// Errors: methods return a StoreStatus; only construction/open may throw (start-up).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::store {

enum class StoreStatus { Ok, NotFound, AlreadyExists, InvalidInput, Unavailable };

enum class VerifyResult { Ok, BadCredentials, Unavailable };

struct UserInfo {
    std::string name;
    std::string created;  // ISO 8601 UTC
};

class Credentials {
public:
    virtual ~Credentials() = default;
    virtual StoreStatus add_user(std::string_view name, std::string_view password) = 0;
    virtual StoreStatus set_password(std::string_view name, std::string_view password) = 0;
    virtual StoreStatus remove_user(std::string_view name) = 0;
    virtual std::vector<UserInfo> list_users() = 0;  // sorted by name; empty on a store error
    // Constant-time in the password; an unknown user costs the same as a wrong password.
    virtual VerifyResult verify(std::string_view name, std::string_view password) = 0;
};

// The argon2id cost of new password hashes (libsodium crypto_pwhash). The default is libsodium's
// "interactive" level (ops 2, 64 MiB), meant for logins that must answer within a fraction of a
// second; see store/README.md. Hashes made at another cost still verify, and are upgraded to
// the configured cost at the next successful verify.
struct PasswordCost {
    unsigned long long opslimit = 0;  // 0: crypto_pwhash_OPSLIMIT_INTERACTIVE
    std::size_t memlimit = 0;         // 0: crypto_pwhash_MEMLIMIT_INTERACTIVE (bytes)
    static PasswordCost interactive() { return {}; }
    static PasswordCost minimum();    // libsodium's minimum: for tests only
};

// Opens (creating if needed) the SQLite store at `path`. Throws std::runtime_error on failure.
std::unique_ptr<Credentials> open_sqlite_credentials(const std::string& path);
std::unique_ptr<Credentials> open_sqlite_credentials(const std::string& path, PasswordCost cost);

// Where a deployment keeps its SQLite store: <data_dir>/store.sqlite.
std::string sqlite_store_path(const std::string& data_dir);

// The rules every backend applies (store/README.md): a user name is 1..128 bytes of printable
// ASCII other than space (so "app1@example.test" is fine); a password is 1..1024 bytes, no NUL.
bool is_valid_user_name(std::string_view name);
bool is_valid_password(std::string_view password);

}  // namespace petrel::store
