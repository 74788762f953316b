// Unit tests for queue/segment_scan.h (spool format version 3): a segment's records read back
// exactly, and every way a segment can end badly after a crash or on a bad disk — torn at
// every byte of its last record, flipped bytes in a message or a header, a zero-filled tail,
// a record in an older format, an invalid ID — stops the scan at the last good record. And the
// tombstone reader: good lines, bad lines skipped, a torn last line ignored and cut off.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "queue/codec.h"
#include "queue/segment_scan.h"
#include "queue/spool_entry.h"
#include "unit/queue/queue_fixture.h"

namespace petrel::queue {
namespace {

namespace fs = std::filesystem;

mail::Envelope envelope(int rcpts = 1) {
    mail::Envelope e;
    e.sender = mail::Mailbox{"sender", "client.test"};
    for (int i = 0; i < rcpts; ++i) {
        mail::Recipient r;
        r.mailbox = {"user" + std::to_string(i), "example.test"};
        e.recipients.push_back(r);
    }
    e.facts.listener = "mx";
    e.facts.client_ip = "127.0.0.1";
    return e;
}

// A valid queue ID that sorts with `i`.
std::string qid(int i) {
    static const char* alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
    std::string id = "0000";
    for (int k = 9; k >= 0; --k) id += alphabet[(i >> (5 * k)) & 31];
    return id;
}

struct Rec {
    std::string id;
    std::string message;
    std::string header;
    uint64_t offset = 0;
    uint64_t end() const { return offset + header.size() + message.size(); }
};

Rec make_record(const std::string& id, const std::string& message, int rcpts = 1) {
    mail::Envelope e = envelope(rcpts);
    std::vector<RecipientState> states(e.recipients.size(), RecipientState::Pending);
    return {id, message, serialize_spool_header(id, 1700000000000, e, states, message), 0};
}

class SegmentScanTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-segscan-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/0000000001.log";
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Lays the records out back to back (setting their offsets) and returns the bytes.
    static std::string layout(std::vector<Rec>& recs) {
        std::string out;
        for (Rec& r : recs) {
            r.offset = out.size();
            out += r.header;
            out += r.message;
        }
        return out;
    }
    void write(const std::string& bytes) const {
        std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
    }
    SegmentScan scan(std::vector<ScannedRecord>* out = nullptr) const {
        return scan_segment(path_, [&](ScannedRecord&& r) {
            if (out) out->push_back(std::move(r));
        });
    }
    static std::string slurp(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    std::string dir_, path_;
};

// The records come back in file order with their exact positions: a small one, an empty
// message, a message holding header-like text and every byte value, one with a header far
// over the first 4 KiB read, one larger than the scan's 4 MiB read window.
TEST_F(SegmentScanTest, SeveralRecordsScanBackExactly) {
    std::string binary;
    for (int c = 0; c < 256; ++c) binary += static_cast<char>(c);
    std::vector<Rec> recs = {
        make_record(qid(1), "Subject: a\r\n\r\nhello\r\n"),
        make_record(qid(2), ""),
        make_record(qid(3), "\ncrc 00000000\nPETREL-SPOOL 3\nmessage 1 00000000\n" + binary),
        make_record(qid(4), "many recipients\r\n", 400),
        make_record(qid(5), std::string((5u << 20) + 17, 'L')),
        make_record(qid(6), "last\r\n"),
    };
    ASSERT_GT(recs[3].header.size(), 4096u);
    const std::string bytes = layout(recs);
    write(bytes);
    std::vector<ScannedRecord> got;
    SegmentScan s = scan(&got);
    EXPECT_TRUE(s.opened);
    EXPECT_EQ(s.stop_reason, "");
    EXPECT_EQ(s.file_size, bytes.size());
    EXPECT_EQ(s.good_end, bytes.size());
    EXPECT_EQ(s.records, recs.size());
    ASSERT_EQ(got.size(), recs.size());
    for (size_t i = 0; i < recs.size(); ++i) {
        SCOPED_TRACE(i);
        const Rec& want = recs[i];
        const ScannedRecord& r = got[i];
        EXPECT_EQ(r.entry.id, want.id);
        EXPECT_EQ(r.offset, want.offset);
        EXPECT_EQ(r.header_bytes, want.header.size());
        EXPECT_EQ(r.entry.message_offset, want.offset + want.header.size());  // absolute
        EXPECT_EQ(r.entry.message_size, want.message.size());
        ASSERT_TRUE(r.entry.message_crc);
        EXPECT_EQ(*r.entry.message_crc, crc32(want.message));
        EXPECT_EQ(r.entry.version, 3);
        EXPECT_EQ(r.entry.path, path_);
        EXPECT_EQ(r.entry.created_ms, 1700000000000);
        EXPECT_EQ(r.entry.envelope.recipients.size(), want.id == qid(4) ? 400u : 1u);
        EXPECT_EQ(bytes.substr(r.entry.message_offset, r.entry.message_size), want.message);
    }
}

TEST_F(SegmentScanTest, EmptyFileHasNoRecordsAndNoStopReason) {
    write("");
    std::vector<ScannedRecord> got;
    SegmentScan s = scan(&got);
    EXPECT_TRUE(s.opened);
    EXPECT_EQ(s.records, 0u);
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(s.good_end, 0u);
    EXPECT_EQ(s.file_size, 0u);
    EXPECT_EQ(s.stop_reason, "");
}

TEST_F(SegmentScanTest, MissingFileIsNotOpened) {
    SegmentScan s = scan_segment(dir_ + "/0000000009.log", [](ScannedRecord&&) { FAIL(); });
    EXPECT_FALSE(s.opened);
    EXPECT_EQ(s.records, 0u);
    EXPECT_EQ(s.stop_reason, "cannot open");
}

// A read that fails inside the file's length (here: a directory where the segment should be,
// pread gives EISDIR) is an I/O error, not a torn tail: recovery must neither cut nor unlink
// such a file, so the scan says which it was.
TEST_F(SegmentScanTest, ReadErrorIsReportedApartFromATornTail) {
    const std::string path = dir_ + "/0000000008.log";
    ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
    SegmentScan s = scan_segment(path, [](ScannedRecord&&) { FAIL(); });
    EXPECT_TRUE(s.opened);
    EXPECT_TRUE(s.read_error);
    EXPECT_EQ(s.stop_reason, "cannot read");
    EXPECT_EQ(s.good_end, 0u);
    // A torn record is not a read error.
    std::string torn = make_record(qid(1), "hello\r\n").header + "hel";
    write(torn);
    SegmentScan t = scan(nullptr);
    EXPECT_FALSE(t.read_error);
    EXPECT_EQ(t.stop_reason, "message is truncated");
}

// A crash during an append leaves any prefix of the last record: cut at every byte inside
// it, the scan returns exactly the records before it and reports where the good part ends.
void torn_at_every_byte(std::vector<Rec> recs, const std::string& path,
                        const std::function<SegmentScan(std::vector<ScannedRecord>*)>& scan) {
    std::string bytes;
    for (Rec& r : recs) {
        r.offset = bytes.size();
        bytes += r.header + r.message;
    }
    const Rec& last = recs.back();
    const uint64_t prev_end = last.offset;
    for (uint64_t cut = prev_end; cut < last.end(); ++cut) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, cut);
        std::vector<ScannedRecord> got;
        SegmentScan s = scan(&got);
        ASSERT_EQ(got.size(), recs.size() - 1) << "cut at " << cut;
        ASSERT_EQ(s.records, recs.size() - 1) << "cut at " << cut;
        for (size_t i = 0; i + 1 < recs.size(); ++i) ASSERT_EQ(got[i].entry.id, recs[i].id);
        ASSERT_EQ(s.good_end, prev_end) << "cut at " << cut;
        ASSERT_EQ(s.file_size, cut);
        if (cut == prev_end) {
            ASSERT_EQ(s.stop_reason, "") << "nothing of the last record: a clean end";
        } else {
            ASSERT_NE(s.stop_reason, "") << "cut at " << cut;
        }
    }
}

TEST_F(SegmentScanTest, TornLastRecordAtEveryByte) {
    torn_at_every_byte({make_record(qid(1), "Subject: one\r\n\r\nfirst\r\n"),
                        make_record(qid(2), "Subject: two\r\n\r\nsecond\r\n"),
                        make_record(qid(3), "Subject: three\r\n\r\nthe last one, torn\r\n")},
                       path_, [this](std::vector<ScannedRecord>* out) { return scan(out); });
}

TEST_F(SegmentScanTest, TornLastRecordWithALargeHeaderAtEveryByte) {
    // The header is read in growing windows (4 KiB, then x4): a cut anywhere in them too.
    Rec big = make_record(qid(2), "big header\r\n", 160);
    ASSERT_GT(big.header.size(), 4096u);
    torn_at_every_byte({make_record(qid(1), "first\r\n"), big}, path_, [this](std::vector<ScannedRecord>* out) { return scan(out); });
}

TEST_F(SegmentScanTest, TornAsTheOnlyRecord) {
    Rec r = make_record(qid(1), "only\r\n");
    const std::string bytes = r.header + r.message;
    for (size_t cut = 1; cut < bytes.size(); ++cut) {
        write(bytes.substr(0, cut));
        SegmentScan s = scan();
        ASSERT_EQ(s.records, 0u) << cut;
        ASSERT_EQ(s.good_end, 0u) << cut;
        ASSERT_NE(s.stop_reason, "") << cut;
    }
}

TEST_F(SegmentScanTest, FlippedMessageByteStopsWithChecksumMismatch) {
    std::vector<Rec> recs = {make_record(qid(1), "one\r\n"), make_record(qid(2), "Subject: two\r\n\r\nbody\r\n"),
                             make_record(qid(3), "three\r\n")};
    const std::string good = layout(recs);
    for (size_t i = 0; i < recs[1].message.size(); ++i) {
        std::string bytes = good;
        bytes[recs[1].offset + recs[1].header.size() + i] ^= 0x01;
        write(bytes);
        std::vector<ScannedRecord> got;
        SegmentScan s = scan(&got);
        ASSERT_EQ(s.stop_reason, "message checksum mismatch") << i;
        ASSERT_EQ(got.size(), 1u) << i;  // the record after it is not read either
        EXPECT_EQ(got[0].entry.id, qid(1));
        EXPECT_EQ(s.good_end, recs[1].offset);
        EXPECT_EQ(s.file_size, good.size());
    }
}

TEST_F(SegmentScanTest, FlippedHeaderByteStops) {
    std::vector<Rec> recs = {make_record(qid(1), "one\r\n"), make_record(qid(2), "two\r\n"),
                             make_record(qid(3), "three\r\n")};
    const std::string good = layout(recs);
    for (size_t i = 0; i < recs[1].header.size(); ++i) {
        for (unsigned char mask : {0x01, 0x20, 0x80}) {
            std::string bytes = good;
            bytes[recs[1].offset + i] = static_cast<char>(bytes[recs[1].offset + i] ^ mask);
            write(bytes);
            std::vector<ScannedRecord> got;
            SegmentScan s = scan(&got);
            ASSERT_EQ(got.size(), 1u) << "flip " << int(mask) << " at header byte " << i;
            ASSERT_EQ(s.good_end, recs[1].offset) << i;
            ASSERT_NE(s.stop_reason, "") << i;
        }
    }
}

TEST_F(SegmentScanTest, ZeroFilledTailStops) {
    std::vector<Rec> recs = {make_record(qid(1), "one\r\n"), make_record(qid(2), "two\r\n")};
    const std::string good = layout(recs);
    // Blocks allocated but never written (a crash with delayed allocation): zeros after the end.
    write(good + std::string(4096, '\0'));
    std::vector<ScannedRecord> got;
    SegmentScan s = scan(&got);
    EXPECT_EQ(got.size(), 2u);
    EXPECT_EQ(s.good_end, good.size());
    EXPECT_EQ(s.file_size, good.size() + 4096);
    EXPECT_NE(s.stop_reason, "");
    // The size of a record was made durable, its message bytes not: zeros in place.
    std::string holed = good;
    std::fill(holed.begin() + static_cast<long>(recs[1].offset + recs[1].header.size()), holed.end(), '\0');
    write(holed);
    got.clear();
    s = scan(&got);
    EXPECT_EQ(got.size(), 1u);
    EXPECT_EQ(s.good_end, recs[1].offset);
    EXPECT_EQ(s.stop_reason, "message checksum mismatch");
    // Zeros from the start of the second record's header on.
    std::fill(holed.begin() + static_cast<long>(recs[1].offset), holed.end(), '\0');
    write(holed);
    s = scan();
    EXPECT_EQ(s.records, 1u);
    EXPECT_EQ(s.good_end, recs[1].offset);
    EXPECT_NE(s.stop_reason, "");
}

TEST_F(SegmentScanTest, OlderFormatRecordStops) {
    // Version 2 headers have no message CRC: they are never valid inside a segment.
    std::vector<Rec> recs = {make_record(qid(1), "one\r\n")};
    const std::string good = layout(recs);
    for (int version : {1, 2}) {
        const std::string legacy = testing::legacy_message_file(qid(2), 1700000000000, envelope(),
                                                                {RecipientState::Pending}, "two\r\n", version);
        ASSERT_TRUE(parse_spool_entry(legacy, legacy.size()).ok);  // a valid legacy file
        write(good + legacy + recs[0].header + recs[0].message);
        std::vector<ScannedRecord> got;
        SegmentScan s = scan(&got);
        EXPECT_EQ(got.size(), 1u);
        EXPECT_EQ(s.good_end, good.size());
        EXPECT_EQ(s.stop_reason, "record without a message checksum");
    }
}

TEST_F(SegmentScanTest, UnknownVersionStops) {
    Rec r = make_record(qid(1), "one\r\n");
    std::string h = r.header;
    h.replace(0, h.find('\n'), "PETREL-SPOOL 4");
    h.erase(h.find("\ncrc ") + 1);
    h += "crc " + crc32_hex(h) + "\n";
    write(h + r.message);
    SegmentScan s = scan();
    EXPECT_EQ(s.records, 0u);
    EXPECT_NE(s.stop_reason.find("unsupported spool format version"), std::string::npos) << s.stop_reason;
}

TEST_F(SegmentScanTest, InvalidQueueIdStops) {
    std::vector<Rec> recs = {make_record(qid(1), "one\r\n"), make_record("../../etc/passwd", "x\r\n")};
    const std::string bytes = layout(recs);
    write(bytes);
    SegmentScan s = scan();
    EXPECT_EQ(s.records, 1u);
    EXPECT_EQ(s.good_end, recs[1].offset);
    EXPECT_EQ(s.stop_reason, "record with an invalid queue ID");
}

TEST_F(SegmentScanTest, MessageLongerThanTheFileStops) {
    // A header that promises more message bytes than the file holds (the header is intact).
    Rec r = make_record(qid(1), std::string(100, 'm'));
    write(r.header + std::string(60, 'm'));
    SegmentScan s = scan();
    EXPECT_EQ(s.records, 0u);
    EXPECT_EQ(s.good_end, 0u);
    EXPECT_EQ(s.stop_reason, "message is truncated");
}

// A header whose "message" length is so large that header + length wraps around 2^64 (only a
// hand edit or a malicious file can have a valid header CRC with it; a crash cannot). Both the
// scan's bounds check and its read window must compare without the sum (they once wrapped:
// the record was accepted and, with a length of exactly 2^64 - header, returned forever).
// Expected: the scan stops ("message is truncated") with no record.
// The callback throws after a few records so that a regression fails the test instead of
// hanging it.
TEST_F(SegmentScanTest, MessageLengthThatWrapsAroundIsRefused) {
    const std::string tail = "abc";  // what follows the header in the file
    std::string h = make_record(qid(1), tail).header;
    const size_t msg_line = h.find("\nmessage ") + 1;
    h.erase(msg_line);
    // "message <20 digits> <crc>\n" then "crc <8 hex>\n": the header's final length is fixed.
    const uint64_t header_len = h.size() + std::string("message 18446744073709551615 00000000\n").size() +
                                std::string("crc 00000000\n").size();
    const uint64_t wrap = 0 - header_len;  // header_len + wrap == 2^64
    ASSERT_EQ(std::to_string(wrap).size(), 20u);
    h += "message " + std::to_string(wrap) + " " + crc32_hex(tail) + "\n";
    h += "crc " + crc32_hex(h) + "\n";
    ASSERT_EQ(h.size(), header_len);
    ReadResult parsed = parse_spool_entry(h, kRecordSizeUnknown);
    ASSERT_TRUE(parsed.ok) << parsed.error;  // a well-formed header: only its length is absurd
    ASSERT_EQ(parsed.entry.message_size, wrap);
    write(h + tail);
    struct Looping {};
    int calls = 0;
    SegmentScan s;
    bool looped = false;
    try {
        s = scan_segment(path_, [&](ScannedRecord&&) {
            if (++calls > 3) throw Looping{};
        });
    } catch (const Looping&) {
        looped = true;
    }
    EXPECT_FALSE(looped) << "scan_segment returned the same record over and over";
    EXPECT_EQ(calls, 0);
    if (!looped) {
        EXPECT_EQ(s.records, 0u);
        EXPECT_EQ(s.good_end, 0u);
        EXPECT_NE(s.stop_reason, "");
    }
}

TEST_F(SegmentScanTest, GarbageAfterGoodRecordsStops) {
    std::vector<Rec> recs = {make_record(qid(1), "one\r\n")};
    const std::string good = layout(recs);
    write(good + "garbage that is no spool record\n");
    SegmentScan s = scan();
    EXPECT_EQ(s.records, 1u);
    EXPECT_EQ(s.good_end, good.size());
    EXPECT_NE(s.stop_reason, "");
}

// --- read_tombstones ---

class TombstonesTest : public SegmentScanTest {
protected:
    std::string tomb() const { return dir_ + "/0000000001.removed"; }
    void write_tomb(const std::string& bytes) const {
        std::ofstream(tomb(), std::ios::binary | std::ios::trunc) << bytes;
    }
};

TEST_F(TombstonesTest, AbsentFileHasNone) {
    EXPECT_TRUE(read_tombstones(tomb(), false).empty());
    EXPECT_TRUE(read_tombstones(tomb(), true).empty());
    EXPECT_FALSE(fs::exists(tomb()));  // repair does not create it
}

TEST_F(TombstonesTest, ValidLinesComeBackSorted) {
    write_tomb(qid(3) + "\n" + qid(1) + "\n" + qid(2) + "\n");
    EXPECT_EQ(read_tombstones(tomb(), false), (std::vector<std::string>{qid(1), qid(2), qid(3)}));
    EXPECT_EQ(read_tombstones(tomb(), true), (std::vector<std::string>{qid(1), qid(2), qid(3)}));
    EXPECT_EQ(slurp(tomb()), qid(3) + "\n" + qid(1) + "\n" + qid(2) + "\n");  // untouched
}

TEST_F(TombstonesTest, InvalidLinesAreSkipped) {
    const std::string upper = "0000000000000A";  // not lower-case Crockford base32
    write_tomb(qid(1) + "\n" +
               "\n" +                          // empty
               "short\n" +                     // too short
               qid(2) + "x\n" +                // too long
               upper + "\n" +
               "000000000000il\n" +            // i and l are not in the alphabet
               qid(3) + "\r\n" +               // CR
               " " + qid(4) + "\n" +           // leading space
               std::string("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\n", 15) +  // zeros
               qid(5) + "\n");
    EXPECT_EQ(read_tombstones(tomb(), true), (std::vector<std::string>{qid(1), qid(5)}));
}

TEST_F(TombstonesTest, TornLastLineIsIgnoredAndCutOffOnRepair) {
    const std::string good = qid(1) + "\n" + qid(2) + "\n";
    // Torn anywhere in the third line, even with all 14 characters but no LF.
    const std::string third = qid(3);
    for (size_t n = 1; n <= third.size(); ++n) {
        write_tomb(good + third.substr(0, n));
        EXPECT_EQ(read_tombstones(tomb(), false), (std::vector<std::string>{qid(1), qid(2)})) << n;
        EXPECT_EQ(slurp(tomb()), good + third.substr(0, n)) << "repair=false changed the file";
        EXPECT_EQ(read_tombstones(tomb(), true), (std::vector<std::string>{qid(1), qid(2)})) << n;
        EXPECT_EQ(slurp(tomb()), good) << n;  // ends with '\n' again
    }
    // Only a torn line: cut to nothing.
    write_tomb(qid(7).substr(0, 5));
    EXPECT_TRUE(read_tombstones(tomb(), true).empty());
    EXPECT_EQ(fs::file_size(tomb()), 0u);
    // A torn line after an invalid one: both out, the file ends after the last LF.
    write_tomb(qid(1) + "\nbad line\n" + "0000");
    EXPECT_EQ(read_tombstones(tomb(), true), std::vector<std::string>{qid(1)});
    EXPECT_EQ(slurp(tomb()), qid(1) + "\nbad line\n");
}

TEST_F(TombstonesTest, ManyLinesBeyondOneReadBuffer) {
    std::string bytes;
    std::vector<std::string> want;
    for (int i = 0; i < 10000; ++i) {  // 150 KB: more than one 64 KiB read
        want.push_back(qid(i));
        bytes += qid(i) + "\n";
    }
    write_tomb(bytes);
    EXPECT_EQ(read_tombstones(tomb(), true), want);
    EXPECT_EQ(fs::file_size(tomb()), bytes.size());
}

}  // namespace
}  // namespace petrel::queue
