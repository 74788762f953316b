// mail::WireEncoder: every line ends in CRLF, leading dots are stuffed, the data ends in
// CRLF.CRLF, and the output does not depend on how the input is cut into chunks (every single
// cut and every pair of cuts of each tricky input). The anti-smuggling guarantee of issue 4.
#include <gtest/gtest.h>

#include "mail/wire_encoding.h"

namespace petrel::mail {
namespace {

struct Case {
    std::string in;
    std::string want;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> c = {
        {"", ".\r\n"},
        {"a\r\n", "a\r\n.\r\n"},
        {"a", "a\r\n.\r\n"},                                  // no final CRLF
        {"a\nb\n", "a\r\nb\r\n.\r\n"},                        // lone LF
        {"a\rb\r", "a\r\nb\r\n.\r\n"},                        // lone CR, also at the end
        {"a\r\r\nb", "a\r\n\r\nb\r\n.\r\n"},                  // CR CR LF
        {"\n.\n", "\r\n..\r\n.\r\n"},                         // LF.LF inside
        {"x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n.\r\n"},         // CRLF.CRLF inside
        {".\r\n", "..\r\n.\r\n"},                             // a dot line at the start
        {"..x\r\n", "...x\r\n.\r\n"},
        {"a.b\r\n.", "a.b\r\n..\r\n.\r\n"},                   // a dot only after a line start
        {"x\r.\ry", "x\r\n..\r\ny\r\n.\r\n"},                 // CR.CR
        {"x\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n"},               // LF.CRLF
        {"x\r\n.\ny", "x\r\n..\r\ny\r\n.\r\n"},               // CRLF.LF
        {std::string("a\0b\n", 4), std::string("a\0b\r\n.\r\n", 8)},
        {"\r\n\r\n", "\r\n\r\n.\r\n"},
        {"\r", "\r\n.\r\n"},
    };
    return c;
}

std::string encode_cut(const std::string& in, std::vector<size_t> cuts) {
    WireEncoder enc;
    std::string out;
    size_t prev = 0;
    cuts.push_back(in.size());
    for (size_t c : cuts) {
        enc.encode(std::string_view(in).substr(prev, c - prev), out);
        prev = c;
    }
    enc.finish(out);
    return out;
}

TEST(WireEncoding, Table) {
    for (const auto& c : cases()) EXPECT_EQ(encode_for_data(c.in), c.want) << "input: " << c.in;
}

TEST(WireEncoding, EverySplitGivesTheSameBytes) {
    for (const auto& c : cases()) {
        for (size_t i = 0; i <= c.in.size(); ++i) {
            ASSERT_EQ(encode_cut(c.in, {i}), c.want) << "cut " << i << " of " << c.in;
            for (size_t j = i; j <= c.in.size(); ++j) ASSERT_EQ(encode_cut(c.in, {i, j}), c.want);
        }
        std::vector<size_t> bytes;
        for (size_t i = 1; i < c.in.size(); ++i) bytes.push_back(i);
        EXPECT_EQ(encode_cut(c.in, bytes), c.want);
    }
}

// Property: over many pseudo-random inputs made of the dangerous bytes, the output has only
// CRLF line ends, no unstuffed dot line, and exactly one end-of-data at its very end.
TEST(WireEncoding, OutputIsAlwaysWireSafe) {
    const char alphabet[] = {'\r', '\n', '.', 'a', ' '};
    uint32_t x = 12345;
    for (int n = 0; n < 3000; ++n) {
        std::string in;
        const int len = n % 23;
        for (int k = 0; k < len; ++k) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            in += alphabet[x % 5];
        }
        const std::string out = encode_for_data(in);
        ASSERT_GE(out.size(), 3u);
        ASSERT_EQ(out.substr(out.size() - 3), ".\r\n");
        for (size_t i = 0; i < out.size(); ++i) {
            if (out[i] == '\r') ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << in;
            if (out[i] == '\n') ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << in;
        }
        const std::string framed = "\r\n" + out;  // as after the DATA command line
        ASSERT_EQ(framed.find("\r\n.\r\n"), framed.size() - 5) << in;
        // Un-stuffing the output gives the input with normalized line ends.
        std::string normalized;
        for (size_t i = 0; i < in.size(); ++i) {
            if (in[i] == '\r') {
                normalized += "\r\n";
                if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
            } else if (in[i] == '\n') {
                normalized += "\r\n";
            } else {
                normalized += in[i];
            }
        }
        if (!normalized.empty() && normalized.back() != '\n') normalized += "\r\n";
        std::string unstuffed;
        size_t pos = 0;
        const std::string body = out.substr(0, out.size() - 3);
        while (pos < body.size()) {
            size_t e = body.find("\r\n", pos);
            std::string line = body.substr(pos, e - pos);
            if (!line.empty() && line[0] == '.') line.erase(0, 1);
            unstuffed += line + "\r\n";
            pos = e + 2;
        }
        ASSERT_EQ(unstuffed, normalized) << in;
    }
}

}  // namespace
}  // namespace petrel::mail
