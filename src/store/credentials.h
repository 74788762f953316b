// store/credentials.h — SMTP AUTH credentials: users and their argon2id password hashes.
//
// Backends: SQLite embedded (store/sqlite_credentials.*); PostgreSQL later behind the same
// interface (PRODUCT.md, "Scale beyond one machine").
// Thread-safety: an implementation is safe to call from several threads. `verify` is slow on
// purpose (argon2id): call it off the I/O threads.
// Errors: methods return a StoreStatus; only construction/open may throw (start-up).
#pragma once

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
    virtual std::vector<UserInfo> list_users() = 0;
    // Constant-time in the password; an unknown user costs the same as a wrong password.
    virtual VerifyResult verify(std::string_view name, std::string_view password) = 0;
};

// Opens (creating if needed) the SQLite store at `path`. Throws std::runtime_error on failure.
std::unique_ptr<Credentials> open_sqlite_credentials(const std::string& path);

}  // namespace petrel::store
