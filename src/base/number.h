// base/number.h — strict decimal parsing for protocol numbers (SIZE=, BDAT sizes, ...).
// Trust: the input is untrusted peer text; anything but 1*20DIGIT that fits in 64 bits is
// refused (no sign, no spaces, no overflow wrap-around).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace petrel::base {

// 1*20DIGIT as an unsigned 64-bit value; nullopt on an empty, non-digit or overflowing input.
std::optional<uint64_t> parse_decimal_u64(std::string_view s);

}  // namespace petrel::base
