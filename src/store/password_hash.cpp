// store/password_hash.cpp — see password_hash.h.
#include "store/password_hash.h"

#include <sodium.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace petrel::store {

void ensure_sodium() {
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] { ok = sodium_init() >= 0; });
    if (!ok) throw std::runtime_error("libsodium failed to initialize");
}

PasswordCost PasswordCost::minimum() {
    return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

PasswordCost resolve_cost(PasswordCost cost) {
    if (cost.opslimit == 0) cost.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (cost.memlimit == 0) cost.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    return cost;
}

std::optional<std::string> hash_password(std::string_view password, PasswordCost cost) {
    ensure_sodium();
    cost = resolve_cost(cost);
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost.opslimit,
                              cost.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return std::nullopt;
    }
    return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view password) {
    ensure_sodium();
    if (hash.size() >= crypto_pwhash_STRBYTES) return false;
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

bool verify_dummy(std::string_view password, PasswordCost cost) {
    cost = resolve_cost(cost);
    // One fixed hash per cost, made once from a random password nobody knows: verifying
    // against it costs exactly what verifying a real hash at that cost does.
    static std::mutex mu;
    static std::map<std::pair<unsigned long long, std::size_t>, std::string> dummies;
    std::string dummy;
    {
        std::lock_guard lock(mu);
        auto& slot = dummies[{cost.opslimit, cost.memlimit}];
        if (slot.empty()) {
            ensure_sodium();
            unsigned char secret[32];
            randombytes_buf(secret, sizeof secret);
            auto h = hash_password(
                std::string_view(reinterpret_cast<const char*>(secret), sizeof secret), cost);
            sodium_memzero(secret, sizeof secret);
            if (h) slot = *h;
        }
        dummy = slot;
    }
    if (!dummy.empty()) (void)verify_password(dummy, password);
    return false;
}

bool needs_rehash(const std::string& hash, PasswordCost cost) {
    ensure_sodium();
    cost = resolve_cost(cost);
    if (hash.rfind(crypto_pwhash_argon2id_STRPREFIX, 0) != 0) return true;
    return crypto_pwhash_str_needs_rehash(hash.c_str(), cost.opslimit, cost.memlimit) != 0;
}

}  // namespace petrel::store
