// Unit tests for the spool record format (queue/spool_entry.h, docs/queue-format.md, version 3
// with the version 1/2 files the start-up migration reads): round trips, the message CRC, torn
// or corrupt records, and reading a record at an offset of a segment file.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "queue/codec.h"
#include "queue/spool_entry.h"
#include "unit/queue/queue_fixture.h"

namespace petrel::queue {
namespace {

mail::Envelope sample_envelope() {
    mail::Envelope e;
    e.sender = mail::Mailbox{"\"odd sender\"", "xn--bcher-kva.test"};
    e.params.size = 1234;
    e.params.body = mail::BodyType::EightBitMime;
    e.params.smtputf8 = true;
    e.params.ret = mail::DsnRet::Headers;
    e.params.envid = "env id%-\x01";
    e.params.auth = "<>";
    mail::Recipient a;
    a.mailbox = {"alice", "example.test"};
    mail::Recipient b;
    b.mailbox = {"-", "example.test"};
    b.notify.specified = true;
    b.notify.success = true;
    b.notify.delay = true;
    b.orcpt = "rfc822;bob@example.test";
    mail::Recipient c;
    c.mailbox = {"\xc3\xa9t\xc3\xa9", "example.test"};
    c.notify.specified = true;
    c.notify.never = true;
    e.recipients = {a, b, c};
    e.facts.session_id = "abcdefghij";
    e.facts.listener = "submission";
    e.facts.client_ip = "2001:db8::7";
    e.facts.client_port = 40000;
    e.facts.helo = "client.test";
    e.facts.esmtp = true;
    e.facts.tls = true;
    e.facts.tls_version = "TLSv1.3";
    e.facts.tls_cipher = "TLS_AES_256_GCM_SHA384";
    e.facts.auth_user = "app1@example.test";
    return e;
}

std::string sample_file(const std::string& message, mail::Envelope e = sample_envelope()) {
    std::vector<RecipientState> states = {RecipientState::Pending, RecipientState::Delivered,
                                          RecipientState::Captured};
    states.resize(e.recipients.size(), RecipientState::Pending);
    return serialize_spool_header("0000000000000a", 1700000000123, e, states, message) +
           message;
}

TEST(SpoolEntry, RoundTrip) {
    const std::string message = "Subject: hi\r\n\r\nbody\r\n";
    std::string file = sample_file(message);
    ReadResult r = parse_spool_entry(file, file.size());
    ASSERT_TRUE(r.ok) << r.error;
    const SpoolEntry& s = r.entry;
    EXPECT_EQ(s.id, "0000000000000a");
    EXPECT_EQ(s.created_ms, 1700000000123);
    EXPECT_EQ(s.message_size, message.size());
    EXPECT_EQ(file.substr(s.message_offset), message);
    mail::Envelope want = sample_envelope();
    const mail::Envelope& got = s.envelope;
    ASSERT_TRUE(got.sender);
    EXPECT_EQ(*got.sender, *want.sender);
    EXPECT_EQ(got.params.size, want.params.size);
    EXPECT_EQ(got.params.body, want.params.body);
    EXPECT_EQ(got.params.smtputf8, true);
    EXPECT_EQ(got.params.ret, mail::DsnRet::Headers);
    EXPECT_EQ(got.params.envid, want.params.envid);
    EXPECT_EQ(got.params.auth, "<>");
    ASSERT_EQ(got.recipients.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(got.recipients[i].mailbox, want.recipients[i].mailbox);
        EXPECT_EQ(got.recipients[i].orcpt, want.recipients[i].orcpt);
        EXPECT_EQ(got.recipients[i].notify.specified, want.recipients[i].notify.specified);
        EXPECT_EQ(got.recipients[i].notify.success, want.recipients[i].notify.success);
        EXPECT_EQ(got.recipients[i].notify.failure, want.recipients[i].notify.failure);
        EXPECT_EQ(got.recipients[i].notify.delay, want.recipients[i].notify.delay);
        EXPECT_EQ(got.recipients[i].notify.never, want.recipients[i].notify.never);
    }
    EXPECT_EQ(s.states, (std::vector<RecipientState>{RecipientState::Pending, RecipientState::Delivered,
                                                     RecipientState::Captured}));
    const mail::SessionFacts& f = got.facts;
    EXPECT_EQ(f.session_id, "abcdefghij");
    EXPECT_EQ(f.listener, "submission");
    EXPECT_EQ(f.client_ip, "2001:db8::7");
    EXPECT_EQ(f.client_port, 40000);
    EXPECT_EQ(f.helo, "client.test");
    EXPECT_TRUE(f.esmtp);
    EXPECT_TRUE(f.tls);
    EXPECT_EQ(f.tls_version, "TLSv1.3");
    EXPECT_EQ(f.tls_cipher, "TLS_AES_256_GCM_SHA384");
    EXPECT_EQ(f.auth_user, "app1@example.test");
}

TEST(SpoolEntry, NullSenderAndEmptyFields) {
    mail::Envelope e;
    mail::Recipient r;
    r.mailbox = {"postmaster", ""};
    e.recipients = {r};
    std::string file = sample_file("", e);
    ReadResult res = parse_spool_entry(file, file.size());
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_FALSE(res.entry.envelope.sender);
    EXPECT_FALSE(res.entry.envelope.params.size);
    EXPECT_EQ(res.entry.envelope.recipients[0].mailbox.domain, "");
    EXPECT_EQ(res.entry.message_size, 0u);
}

TEST(SpoolEntry, HeaderIsPrintableAscii) {
    std::string file = sample_file("");
    for (unsigned char c : file) {
        EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7F)) << int(c);
    }
    EXPECT_EQ(file.rfind("PETREL-SPOOL 3\n", 0), 0u);
}

// Every truncation of a file is refused: a torn write can never pass for a message.
TEST(SpoolEntry, EveryTruncationIsRejected) {
    std::string file = sample_file("Subject: x\r\n\r\nhello\r\n");
    for (size_t n = 0; n < file.size(); ++n) {
        ReadResult r = parse_spool_entry(std::string_view(file).substr(0, n), n);
        EXPECT_FALSE(r.ok) << "accepted a file cut at " << n;
    }
    EXPECT_TRUE(parse_spool_entry(file, file.size()).ok);
}

TEST(SpoolEntry, CorruptionIsRejected) {
    std::string file = sample_file("body\r\n");
    // Extra bytes after the message.
    std::string longer = file + "x";
    EXPECT_EQ(parse_spool_entry(longer, longer.size()).error, "trailing bytes after message");
    // A flipped byte in the header fails the checksum (or the field syntax).
    size_t header_end = parse_spool_entry(file, file.size()).entry.message_offset;
    for (size_t i = 0; i < header_end; i += 7) {
        std::string bad = file;
        bad[i] = static_cast<char>(bad[i] ^ 0x01);
        EXPECT_FALSE(parse_spool_entry(bad, bad.size()).ok) << "flip at " << i;
    }
    // Unknown version.
    std::string v4 = file;
    v4[13] = '4';
    EXPECT_FALSE(parse_spool_entry(v4, v4.size()).ok);
    // Not a spool file at all.
    EXPECT_FALSE(parse_spool_entry("hello\n", 6).ok);
}

// Version 3: the "message" line carries the message's CRC-32 too.
TEST(SpoolEntry, MessageLineCarriesLengthAndCrc) {
    const std::string message = "Subject: crc\r\n\r\nbody\r\n";
    std::string file = sample_file(message);
    const std::string line = "\nmessage " + std::to_string(message.size()) + " " + crc32_hex(message) + "\ncrc ";
    EXPECT_NE(file.find(line), std::string::npos) << file;
    ReadResult r = parse_spool_entry(file, file.size());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.version, 3);
    ASSERT_TRUE(r.entry.message_crc);
    EXPECT_EQ(*r.entry.message_crc, crc32(message));
    // The parser does not check the message bytes against it (the caller may not have them).
    std::string other = file;
    other.back() ^= 0x01;
    EXPECT_TRUE(parse_spool_entry(other, other.size()).ok);
}

TEST(SpoolEntry, MessageLineFieldCountDependsOnTheVersion) {
    const std::string message = "m\r\n";
    // Version 3 with the version 2 "message <len>" line: refused.
    std::string h = serialize_spool_header("0000000000000a", 1, sample_envelope(),
                                           {RecipientState::Pending, RecipientState::Pending,
                                            RecipientState::Pending},
                                           message);
    std::string v3_one_field = h.substr(0, h.find("\nmessage ") + 1) + "message 3\n";
    v3_one_field += "crc " + crc32_hex(v3_one_field) + "\n" + message;
    EXPECT_FALSE(parse_spool_entry(v3_one_field, v3_one_field.size()).ok);
    // Version 2 with a version 3 "message <len> <crc>" line: refused.
    std::string v2_two_fields = h;
    v2_two_fields.replace(0, v2_two_fields.find('\n'), "PETREL-SPOOL 2");
    v2_two_fields.erase(v2_two_fields.find("\ncrc ") + 1);
    v2_two_fields += "crc " + crc32_hex(v2_two_fields) + "\n" + message;
    EXPECT_FALSE(parse_spool_entry(v2_two_fields, v2_two_fields.size()).ok);
    // A bad message CRC field: wrong length, not hex.
    for (const char* bad : {"0000000", "000000000", "0000000g", "-0000000"}) {
        std::string f = h.substr(0, h.find("\nmessage ") + 1) + "message 3 " + bad + "\n";
        f += "crc " + crc32_hex(f) + "\n" + message;
        EXPECT_FALSE(parse_spool_entry(f, f.size()).ok) << bad;
    }
}

// The start-up migration reads version 1 and 2 files: one file per message, no message CRC.
TEST(SpoolEntry, LegacyVersionsParse) {
    const std::string message = "Subject: old\r\n\r\nv2\r\n";
    for (int version : {1, 2}) {
        std::string file = testing::legacy_message_file("0000000000000b", 1600000000000, sample_envelope(),
                                                        {RecipientState::Pending, RecipientState::Delivered,
                                                         RecipientState::Pending},
                                                        message, version);
        EXPECT_EQ(file.rfind("PETREL-SPOOL " + std::to_string(version) + "\n", 0), 0u);
        EXPECT_NE(file.find("\nmessage " + std::to_string(message.size()) + "\ncrc "), std::string::npos);
        ReadResult r = parse_spool_entry(file, file.size());
        ASSERT_TRUE(r.ok) << version << ": " << r.error;
        EXPECT_EQ(r.entry.version, version);
        EXPECT_FALSE(r.entry.message_crc);
        EXPECT_EQ(r.entry.id, "0000000000000b");
        EXPECT_EQ(r.entry.created_ms, 1600000000000);
        EXPECT_EQ(r.entry.states[1], RecipientState::Delivered);
        EXPECT_EQ(file.substr(r.entry.message_offset), message);
        EXPECT_FALSE(parse_spool_entry(std::string_view(file).substr(0, file.size() - 1), file.size() - 1).ok);
    }
}

// kRecordSizeUnknown (a segment scan): the header alone is checked; what follows is the
// caller's business. Every cut inside the header is still refused.
TEST(SpoolEntry, RecordSizeUnknownChecksTheHeaderOnly) {
    const std::string message = "Subject: x\r\n\r\nhello\r\n";
    std::string file = sample_file(message);
    const size_t header = parse_spool_entry(file, file.size()).entry.message_offset;
    for (size_t n = 0; n < header; ++n) {
        EXPECT_FALSE(parse_spool_entry(std::string_view(file).substr(0, n), kRecordSizeUnknown).ok)
            << "accepted a header cut at " << n;
    }
    for (size_t n = header; n <= file.size(); ++n) {
        ReadResult r = parse_spool_entry(std::string_view(file).substr(0, n), kRecordSizeUnknown);
        ASSERT_TRUE(r.ok) << n << ": " << r.error;
        EXPECT_EQ(r.entry.message_offset, header);
        EXPECT_EQ(r.entry.message_size, message.size());
    }
    std::string followed = file + "PETREL-SPOOL 3\nthe next record";
    EXPECT_TRUE(parse_spool_entry(followed, kRecordSizeUnknown).ok);
    EXPECT_FALSE(parse_spool_entry(followed, followed.size()).ok);
}

TEST(SpoolEntry, MissingRecipientsRejected) {
    mail::Envelope e = sample_envelope();
    e.recipients.clear();
    std::string file = sample_file("x", e);
    EXPECT_EQ(parse_spool_entry(file, file.size()).error, "no recipients");
}

class SpoolEntryFile : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-spool-entry-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        ::unlink((dir_ + "/f").c_str());
        ::rmdir(dir_.c_str());
    }
    std::string write(const std::string& bytes) {
        std::string p = dir_ + "/f";
        std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
        return p;
    }
    std::string dir_;
};

TEST_F(SpoolEntryFile, ReadsHeaderFromDisk) {
    std::string message(300000, 'a');  // larger than the first read
    std::string file = sample_file(message);
    ReadResult r = read_spool_entry(write(file));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.message_size, message.size());
    EXPECT_EQ(r.entry.envelope.recipients.size(), 3u);
}

TEST_F(SpoolEntryFile, LargeHeader) {
    mail::Envelope e = sample_envelope();
    for (int i = 0; i < 3000; ++i) {
        mail::Recipient r;
        r.mailbox = {"user" + std::to_string(i), "example.test"};
        e.recipients.push_back(r);
    }
    std::string file = sample_file("hi\r\n", e);
    ASSERT_GT(file.size(), 64u * 1024);
    ReadResult r = read_spool_entry(write(file));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.envelope.recipients.size(), 3003u);
}

TEST_F(SpoolEntryFile, ReadsARecordAtAnOffset) {
    const std::string m1 = "first\r\n", m2 = "Subject: second\r\n\r\nbody\r\n";
    const std::string r1 = sample_file(m1), r2 = sample_file(m2);
    const std::string p = write(r1 + r2);
    ReadResult r = read_spool_record(p, r1.size(), r2.size(), 1 << 20);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.path, p);
    EXPECT_EQ(r.entry.message_offset, r1.size() + (r2.size() - m2.size()));  // absolute
    ASSERT_TRUE(r.message);
    EXPECT_EQ(*r.message, m2);
    // Header only (the record is over inline_max).
    ReadResult h = read_spool_record(p, r1.size(), r2.size(), 10);
    ASSERT_TRUE(h.ok) << h.error;
    EXPECT_FALSE(h.message);
    EXPECT_EQ(h.entry.message_offset, r.entry.message_offset);
    // The first record, read with the size of the whole file: trailing bytes.
    EXPECT_FALSE(read_spool_record(p, 0, r1.size() + r2.size()).ok);
    // A size one short: torn.
    EXPECT_FALSE(read_spool_record(p, r1.size(), r2.size() - 1).ok);
    // A wrong offset: not a record.
    EXPECT_FALSE(read_spool_record(p, 1, r2.size()).ok);
    EXPECT_FALSE(read_spool_record(dir_ + "/missing", 0, r1.size()).ok);
}

TEST_F(SpoolEntryFile, InlineReadChecksTheMessageCrc) {
    const std::string m = "Subject: x\r\n\r\nbody\r\n";
    std::string rec = sample_file(m);
    rec[rec.size() - 3] ^= 0x01;  // a flipped message byte
    const std::string p = write(rec);
    ReadResult r = read_spool_record(p, 0, rec.size(), 1 << 20);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "message checksum mismatch");
    // Without reading the message the header alone is fine (delivery then streams the
    // message; the scan at start-up checks the CRC).
    EXPECT_TRUE(read_spool_record(p, 0, rec.size(), 0).ok);
}

TEST_F(SpoolEntryFile, ReadsAWholeLegacyFile) {
    const std::string m = "Subject: legacy\r\n\r\nbody\r\n";
    const std::string file = testing::legacy_message_file("0000000000000c", 1600000000000, sample_envelope(),
                                                          {}, m, 2);
    ReadResult r = read_spool_entry(write(file), 1 << 20);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry.version, 2);
    ASSERT_TRUE(r.message);
    EXPECT_EQ(*r.message, m);
}

TEST_F(SpoolEntryFile, TornOnDisk) {
    std::string file = sample_file("Subject: x\r\n\r\nhello\r\n");
    EXPECT_FALSE(read_spool_entry(write(file.substr(0, file.size() - 3))).ok);
    EXPECT_FALSE(read_spool_entry(write(file.substr(0, 40))).ok);
    EXPECT_FALSE(read_spool_entry(write("")).ok);
    EXPECT_FALSE(read_spool_entry(dir_ + "/missing").ok);
}

}  // namespace
}  // namespace petrel::queue
