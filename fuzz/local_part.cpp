// fuzz/local_part.cpp — libFuzzer target for mail::mailbox_name (mail/local_part.h), which turns
// a peer's local part into a file-name component under the Maildir root.
//
// Checked beyond memory safety: an accepted name can never leave the root or be special (no '/',
// '\', NUL or control byte, no leading '.', no "..", 1..64 octets, no ASCII capital), and the
// rule is idempotent (a name maps to itself), which delivery/maildir.cpp relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/local_part.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto name = petrel::mail::mailbox_name(in);
    if (!name) return 0;
    const std::string& n = *name;
    if (n.empty() || n.size() > 64 || n.front() == '.' || n.find("..") != std::string::npos) std::abort();
    for (char c : n) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '/' || c == '\\' || (c >= 'A' && c <= 'Z')) std::abort();
    }
    if (petrel::mail::mailbox_name(n) != name) std::abort();
    return 0;
}
