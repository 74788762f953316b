// tests/unit/delivery/prefix_source_test.cpp — PrefixSource (delivery/spool_source.h): the
// DKIM-Signature fields come first on the wire, then the stored message, in slices of any size.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "delivery/spool_source.h"

namespace petrel::delivery {
namespace {

std::string drain(smtp::MessageSource& s, size_t slice) {
    std::string out;
    for (int i = 0; i < 10000; ++i) {
        auto part = s.read(slice);
        if (!part || part->empty()) break;
        out += *part;
    }
    return out;
}

TEST(PrefixSource, YieldsThePrefixThenTheMessageAtEverySliceSize) {
    const std::string prefix = "DKIM-Signature: v=1; a=rsa-sha256; b=xyz\r\n";
    const std::string msg = "From: a@example.test\r\n\r\nbody\r\n";
    for (size_t slice : {1u, 3u, 16u, 43u, 44u, 4096u}) {
        PrefixSource s(prefix, std::make_shared<smtp::StringSource>(msg));
        EXPECT_EQ(s.size(), prefix.size() + msg.size());
        EXPECT_EQ(drain(s, slice), prefix + msg) << "slice " << slice;
    }
}

TEST(PrefixSource, EmptyPrefixIsTheMessage) {
    PrefixSource s("", std::make_shared<smtp::StringSource>("x\r\n"));
    EXPECT_EQ(drain(s, 2), "x\r\n");
}

}  // namespace
}  // namespace petrel::delivery
