// Unit tests for base::parse_decimal_u64: the strict number parser behind SIZE= and BDAT.
#include "base/number.h"

#include <gtest/gtest.h>

namespace petrel::base {
namespace {

TEST(ParseDecimal, AcceptsDigitsUpToUint64Max) {
    EXPECT_EQ(parse_decimal_u64("0"), 0u);
    EXPECT_EQ(parse_decimal_u64("0001"), 1u);
    EXPECT_EQ(parse_decimal_u64("10485760"), 10485760u);
    EXPECT_EQ(parse_decimal_u64("18446744073709551615"), UINT64_MAX);
}

TEST(ParseDecimal, RefusesEverythingElse) {
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1a", "0x10", "18446744073709551616",
                            "99999999999999999999", "000000000000000000001"}) {
        EXPECT_EQ(parse_decimal_u64(bad), std::nullopt) << bad;
    }
}

}  // namespace
}  // namespace petrel::base
