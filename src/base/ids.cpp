// base/ids.cpp — see ids.h.
#include "base/ids.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

namespace petrel::base {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford, lower case

void append_base32(std::string& out, uint64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i) out += kAlphabet[(value >> (5 * i)) & 31];
}

uint32_t random_seed() {
    std::random_device rd;
    return rd();
}

std::atomic<uint32_t> g_counter{random_seed()};

uint64_t now_micros() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
        duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

std::string new_queue_id() {
    std::string id;
    id.reserve(14);
    append_base32(id, now_micros(), 11);
    append_base32(id, g_counter.fetch_add(1, std::memory_order_relaxed), 3);
    return id;
}

std::string new_session_id() {
    std::string id;
    id.reserve(10);
    append_base32(id, now_micros() / 1000, 7);
    append_base32(id, g_counter.fetch_add(1, std::memory_order_relaxed), 3);
    return id;
}

bool is_valid_queue_id(const std::string& id) {
    if (id.size() != 14) return false;
    for (char c : id) {
        bool ok = false;
        for (const char* p = kAlphabet; *p; ++p) ok |= (*p == c);
        if (!ok) return false;
    }
    return true;
}

}  // namespace petrel::base
