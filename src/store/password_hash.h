// store/password_hash.h — argon2id password hashing shared by every credentials backend.
//
// Wraps libsodium's crypto_pwhash_str_alg (ARGON2ID13) and crypto_pwhash_str_verify. Hashes are
// the self-describing PHC strings "$argon2id$v=19$m=...,t=...,p=1$salt$hash", so cost changes
// need no schema change. Trust: passwords are secrets from a client; they are never logged and
// the buffers libsodium uses are its own. Thread-safe (sodium_init runs once, guarded).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/credentials.h"

namespace petrel::store {

// Calls sodium_init() once per process. Throws std::runtime_error when libsodium cannot start
// (start-up only).
void ensure_sodium();

// Resolves 0 fields of `cost` to libsodium's interactive level.
PasswordCost resolve_cost(PasswordCost cost);

// A new argon2id hash of `password` at `cost`, or nullopt when libsodium fails (out of memory).
std::optional<std::string> hash_password(std::string_view password, PasswordCost cost);

// True when `password` matches `hash`. Takes as long as one argon2id at the hash's own cost.
bool verify_password(const std::string& hash, std::string_view password);

// Spends the time of one verify at `cost` and returns false: used for unknown users so that
// their answer takes as long as a wrong password's (no user enumeration by timing).
bool verify_dummy(std::string_view password, PasswordCost cost);

// True when `hash` was made with another algorithm or cost than `cost` (upgrade on login).
bool needs_rehash(const std::string& hash, PasswordCost cost);

}  // namespace petrel::store
