// queue/spool_entry.h — the on-disk form of one spooled message (docs/queue-format.md,
// format version 3: a record in a segment file; version 1 and 2 message files are read too,
// for the start-up migration): a text header (envelope, session facts, per-recipient state,
// checksums) followed by the message bytes.
//
// Trust: `serialize_spool_header` takes petrel's own validated envelope. The readers take file
// bytes that may be torn or corrupt (a crash, a bad disk, a hand edit): they check the magic,
// the version, every field, the header checksum and the message length, and report any
// mismatch as an error value, never an exception and never a partial entry.
// Envelope fields: RFC 5321 §3.3; DSN parameters RFC 3461 §4; BODY RFC 6152 / RFC 3030.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/envelope.h"

namespace petrel::queue {

// Version 3: a record in an append-only segment file, its header carrying a CRC of the message
// too (a torn tail is detectable). Version 2: one file per message; the header's recipient
// states are the states at commit, later changes are in the state journal spool/state/<id>
// (queue/state_journal.h), as in version 3. Version 1 had no journal.
inline constexpr int kSpoolFormatVersion = 3;

// Per-recipient delivery state, one letter on disk.
enum class RecipientState {
    Pending,    // 'P': still to deliver
    Delivered,  // 'D': done
    Bounced,    // 'B': failed permanently, DSN due or sent
    Captured,   // 'C': accepted in sandbox mode; never delivered
};

struct SpoolEntry {
    std::string id;
    int64_t created_ms = 0;  // Unix time of the commit, milliseconds
    mail::Envelope envelope;
    std::vector<RecipientState> states;  // one per envelope.recipients
    std::string path;                    // the file holding the message (set by the readers)
    uint64_t message_offset = 0;         // where the message starts in that file
    uint64_t message_size = 0;
    std::optional<uint32_t> message_crc; // CRC-32 of the message bytes (version 3)
    int version = 0;
};

struct ReadResult {
    bool ok = false;
    std::string error;  // when !ok: what is wrong, for the log
    SpoolEntry entry;
    std::optional<std::string> message;  // read_spool_entry with inline_max: the message bytes
};

// The (version 3) header for `message`; the message follows it directly in the record.
std::string serialize_spool_header(const std::string& id, int64_t created_ms,
                                   const mail::Envelope& envelope,
                                   const std::vector<RecipientState>& states,
                                   std::string_view message);

// Parses a header from the start of `bytes`; `record_size` is the size of the whole record
// (a version 1/2 file), which must equal message_offset + message_size (shorter: torn, longer:
// corrupt). The message CRC (version 3) is not checked here: the caller has the bytes or not.
// kRecordSizeUnknown: the header alone is checked (a segment scan, which then checks that the
// message fits in the file).
inline constexpr uint64_t kRecordSizeUnknown = ~0ull;
inline constexpr size_t kMaxSpoolHeader = 16 * 1024 * 1024;
ReadResult parse_spool_entry(std::string_view bytes, uint64_t record_size);
// True once `bytes` (from the start of a record) holds the whole header: its "crc" line, LF
// included. The readers read more while it is not.
bool spool_header_complete(std::string_view bytes);

// Reads the header of the record of `record_size` bytes at `offset` in `path` (not the
// message: it may be large). A record of at most `inline_max` bytes is read whole in the same
// pread and its message returned too, checked against the message CRC (delivery: one open and
// one read per attempt for small messages). message_offset comes back as a file offset.
ReadResult read_spool_record(const std::string& path, uint64_t offset, uint64_t record_size,
                             uint64_t inline_max = 0);
// A whole version 1/2 message file (the start-up migration reads these).
ReadResult read_spool_entry(const std::string& path, uint64_t inline_max = 0);

}  // namespace petrel::queue
